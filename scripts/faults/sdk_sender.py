"""For scripts/faults/sdk-through-faults: the official OpenTelemetry Python SDK exporters
(gRPC and HTTP) retry through a full-disk period; every span they sent is
present after space is freed, without restarting Loupe.

Usage: fulldisk_sdk.py GRPC_ENDPOINT HTTP_ENDPOINT OUT_JSON PHASE_FILE
Sends spans continuously (one trace per span, names carry a counter) with a
BatchSpanProcessor per exporter until PHASE_FILE contains 'stop'; writes
the trace IDs it emitted to OUT_JSON."""
import json, os, sys, time, logging
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
grpc_ep, http_ep, out, phase = sys.argv[1:5]
providers = {}
for name, exp in [
    ("py-grpc", GrpcExporter(endpoint=grpc_ep, insecure=True, timeout=120)),
    ("py-http", HttpExporter(endpoint=http_ep, timeout=120)),
]:
    p = TracerProvider(resource=Resource.create({"service.name": name}))
    p.add_span_processor(BatchSpanProcessor(exp, max_queue_size=100000, max_export_batch_size=200,
                                            schedule_delay_millis=200, export_timeout_millis=120000))
    providers[name] = p
ids = {n: [] for n in providers}
i = 0
while True:
    try:
        if open(phase).read().strip() == "stop":
            break
    except FileNotFoundError:
        pass
    for n, p in providers.items():
        t = p.get_tracer("fulldisk")
        with t.start_as_current_span(f"{n}-{i}", attributes={"payload": "x" * 200, "i": i}) as s:
            ids[n].append(format(s.get_span_context().trace_id, "032x"))
    i += 1
    time.sleep(0.01)
t0 = time.time()
for p in providers.values():
    p.force_flush(180000)
    p.shutdown()
json.dump(ids, open(out, "w"))
print(f"sent {sum(len(v) for v in ids.values())} spans; flush took {time.time()-t0:.1f}s", flush=True)
