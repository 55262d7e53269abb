// A metric time series for the browser test's metric explorer checks: the
// official OpenTelemetry Node SDK exports a counter (cumulative, so Loupe
// charts a rate) per Kestra flow and a latency histogram, 12 times 250 ms
// apart, over OTLP/HTTP protobuf.
//
//   LOUPE_HTTP_ENDPOINT=http://127.0.0.1:4318 node metrics.mjs
//
// Prints a JSON manifest ({"counter": name, "histogram": name, "flows": [...]}) on its last line.

import { diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';

diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);
const HTTP_ENDPOINT = (process.env.LOUPE_HTTP_ENDPOINT ?? 'http://127.0.0.1:4318').replace(/\/+$/, '');
const exporter = new OTLPMetricExporter({ url: `${HTTP_ENDPOINT}/v1/metrics`, timeoutMillis: 10_000 });
const provider = new MeterProvider({
  resource: resourceFromAttributes({ 'service.name': 'kestra-executor' }),
  readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 })],
});
const meter = provider.getMeter('io.kestra.core.metrics.MetricRegistry', '0.24.0');
const COUNTER = 'kestra.executor.taskrun.ended.count';
const HISTOGRAM = 'kestra.executor.taskrun.duration';
const counter = meter.createCounter(COUNTER, { description: 'Task runs ended', unit: '{taskrun}' });
const hist = meter.createHistogram(HISTOGRAM, { description: 'Task run duration', unit: 'ms' });
const FLOWS = { orders_batch: 5, cleanup: 1 };
for (let i = 0; i < 12; i++) {
  for (const [flowId, n] of Object.entries(FLOWS)) {
    counter.add(n, { flowId, namespace: 'company.team' });
    for (let k = 0; k < n; k++) hist.record(20 + ((i * 37 + k * 11) % 200), { flowId });
  }
  await provider.forceFlush();
  await new Promise((r) => setTimeout(r, 250));
}
await provider.shutdown();
process.stdout.write(`${JSON.stringify({ counter: COUNTER, histogram: HISTOGRAM, flows: Object.keys(FLOWS) })}\n`);
