// End-to-end workload for Loupe, written with the official OpenTelemetry Node
// SDK (no auto-instrumentation). It emits traces, metrics and logs shaped like
// the telemetry of the Kestra workflow engine over ONE OTLP transport, flushes
// and shuts everything down, then prints ONE JSON line on stdout: the manifest
// of every ID, name, attribute, event, link, log record and metric it created,
// which `tests/e2e_node.rs` compares with what Loupe's API returns.
//
// Environment:
//   LOUPE_PROTOCOL       grpc | http/protobuf | http/json
//   LOUPE_GRPC_ENDPOINT  e.g. http://127.0.0.1:4317 (for grpc)
//   LOUPE_HTTP_ENDPOINT  e.g. http://127.0.0.1:4318 (for http/*; /v1/{traces,metrics,logs} is appended)
//   LOUPE_RUN            a unique string put into attribute values
//
// Exit status: 0 when every export was acknowledged, 1 otherwise (details on stderr).

import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  DiagConsoleLogger,
  DiagLogLevel,
  trace,
} from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { W3CTraceContextPropagator, ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';

import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';

// Only warnings and errors, and those go to stderr: stdout carries the manifest alone.
diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);

function fail(message) {
  process.stderr.write(`workload: ${message}\n`);
  process.exit(1);
}

const PROTOCOL = process.env.LOUPE_PROTOCOL ?? 'http/protobuf';
const GRPC_ENDPOINT = (process.env.LOUPE_GRPC_ENDPOINT ?? 'http://127.0.0.1:4317').replace(/\/+$/, '');
const HTTP_ENDPOINT = (process.env.LOUPE_HTTP_ENDPOINT ?? 'http://127.0.0.1:4318').replace(/\/+$/, '');
const RUN = process.env.LOUPE_RUN ?? `run${Date.now().toString(36)}`;

// ---------------------------------------------------------------------------
// Exporters for the chosen transport, each wrapped so that a rejected export
// makes the workload fail instead of being only logged by the SDK.
// ---------------------------------------------------------------------------

const exportFailures = [];
const exportCounts = { traces: 0, metrics: 0, logs: 0 };

function checked(signal, exporter) {
  return new Proxy(exporter, {
    get(target, prop, receiver) {
      if (prop === 'export') {
        return (items, resultCallback) => {
          target.export(items, (result) => {
            if (result.code === ExportResultCode.SUCCESS) {
              exportCounts[signal] += 1;
            } else {
              exportFailures.push(`${signal}: ${result.error?.stack ?? result.error ?? 'export failed'}`);
            }
            resultCallback(result);
          });
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function makeExporters() {
  const timeoutMillis = 10_000;
  switch (PROTOCOL) {
    case 'grpc':
      return {
        traces: new GrpcTraceExporter({ url: GRPC_ENDPOINT, timeoutMillis }),
        metrics: new GrpcMetricExporter({ url: GRPC_ENDPOINT, timeoutMillis }),
        logs: new GrpcLogExporter({ url: GRPC_ENDPOINT, timeoutMillis }),
      };
    case 'http/protobuf':
      return {
        traces: new ProtoTraceExporter({ url: `${HTTP_ENDPOINT}/v1/traces`, timeoutMillis }),
        metrics: new ProtoMetricExporter({ url: `${HTTP_ENDPOINT}/v1/metrics`, timeoutMillis }),
        logs: new ProtoLogExporter({ url: `${HTTP_ENDPOINT}/v1/logs`, timeoutMillis }),
      };
    case 'http/json':
      return {
        traces: new JsonTraceExporter({ url: `${HTTP_ENDPOINT}/v1/traces`, timeoutMillis }),
        metrics: new JsonMetricExporter({ url: `${HTTP_ENDPOINT}/v1/metrics`, timeoutMillis }),
        logs: new JsonLogExporter({ url: `${HTTP_ENDPOINT}/v1/logs`, timeoutMillis }),
      };
    default:
      return fail(`unknown LOUPE_PROTOCOL ${JSON.stringify(PROTOCOL)} (grpc | http/protobuf | http/json)`);
  }
}

const exporters = makeExporters();
const traceExporter = checked('traces', exporters.traces);
const metricExporter = checked('metrics', exporters.metrics);
const logExporter = checked('logs', exporters.logs);

// ---------------------------------------------------------------------------
// Providers: one tracer provider per service (a resource is per provider),
// sharing one batch processor and so one exporter.
// ---------------------------------------------------------------------------

const spanProcessor = new BatchSpanProcessor(traceExporter, {
  scheduledDelayMillis: 60_000, // export on forceFlush only
  maxExportBatchSize: 512,
  maxQueueSize: 2048,
});

const resources = {
  upstream: { 'service.name': 'upstream', 'service.version': '1.4.2', 'loupe.run': RUN },
  'kestra-webserver': {
    'service.name': 'kestra-webserver',
    'service.namespace': 'kestra',
    'service.version': '0.24.0',
    'service.instance.id': `webserver-${RUN}`,
    'loupe.run': RUN,
  },
  kestra: {
    'service.name': 'kestra',
    'service.namespace': 'kestra',
    'service.version': '0.24.0',
    'service.instance.id': `standalone-${RUN}`,
    'deployment.environment.name': 'e2e',
    'loupe.run': RUN,
  },
  downstream: { 'service.name': 'downstream', 'service.version': '2.0.0', 'loupe.run': RUN },
};

const tracerProviders = Object.fromEntries(
  Object.entries(resources).map(([service, attrs]) => [
    service,
    new BasicTracerProvider({ resource: resourceFromAttributes(attrs), spanProcessors: [spanProcessor] }),
  ]),
);

const meterProvider = new MeterProvider({
  resource: resourceFromAttributes(resources.kestra),
  readers: [
    new PeriodicExportingMetricReader({
      exporter: metricExporter,
      exportIntervalMillis: 60_000, // export on forceFlush / shutdown only
      exportTimeoutMillis: 10_000,
    }),
  ],
});

const loggerProvider = new LoggerProvider({
  resource: resourceFromAttributes(resources.kestra),
  processors: [new BatchLogRecordProcessor({ exporter: logExporter, scheduledDelayMillis: 60_000 })],
});

const propagator = new W3CTraceContextPropagator();

// ---------------------------------------------------------------------------
// Manifest bookkeeping.
// ---------------------------------------------------------------------------

// OTLP's SpanKind numbers (the API's enum is shifted by one: OTLP 0 is UNSPECIFIED).
const OTLP_KIND = {
  [SpanKind.INTERNAL]: 1,
  [SpanKind.SERVER]: 2,
  [SpanKind.CLIENT]: 3,
  [SpanKind.PRODUCER]: 4,
  [SpanKind.CONSUMER]: 5,
};

const manifest = {
  run: RUN,
  protocol: PROTOCOL,
  resources,
  traces: [],
  spans: [],
  links: [],
  propagations: [],
  logs: [],
  metrics: [],
  roles: {},
};

// All times are explicit, relative to a base a few seconds in the past, so
// durations are realistic and deterministic (ms since the epoch).
const BASE_MS = Date.now() - 30_000;
const at = (offsetMs) => BASE_MS + offsetMs;
const nanos = (ms) => (BigInt(Math.round(ms * 1000)) * 1000n).toString();

const recorded = new Map(); // spanId -> manifest entry

function ctxOf(span) {
  return trace.setSpan(ROOT_CONTEXT, span);
}

/**
 * Starts and records a span. `parent` is a Context (or ROOT_CONTEXT for a new trace).
 */
function startSpan(service, scope, name, { kind = SpanKind.INTERNAL, parent = ROOT_CONTEXT, start, attributes = {}, links = [] }) {
  const tracer = tracerProviders[service].getTracer(scope, '0.24.0');
  const span = tracer.startSpan(name, { kind, attributes, links, startTime: at(start) }, parent);
  const sc = span.spanContext();
  const parentSc = trace.getSpanContext(parent);
  const entry = {
    traceId: sc.traceId,
    spanId: sc.spanId,
    parentSpanId: parentSc ? parentSc.spanId : '',
    name,
    kind: OTLP_KIND[kind],
    service,
    scope,
    attributes,
    startTimeUnixNano: nanos(at(start)),
    endTimeUnixNano: null,
    status: { code: 0, message: '' },
    events: [],
    links: links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      attributes: l.attributes ?? {},
    })),
  };
  for (const l of links) {
    manifest.links.push({
      fromTraceId: sc.traceId,
      fromSpanId: sc.spanId,
      toTraceId: l.context.traceId,
      toSpanId: l.context.spanId,
      attributes: l.attributes ?? {},
    });
  }
  manifest.spans.push(entry);
  recorded.set(sc.spanId, entry);
  return span;
}

function endSpan(span, end) {
  span.end(at(end));
  recorded.get(span.spanContext().spanId).endTimeUnixNano = nanos(at(end));
}

function addEvent(span, name, attributes, offset) {
  span.addEvent(name, attributes, at(offset));
  recorded.get(span.spanContext().spanId).events.push({ name, attributes, timeUnixNano: nanos(at(offset)) });
}

function setError(span, message) {
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  recorded.get(span.spanContext().spanId).status = { code: 2, message };
}

function recordException(span, error, offset) {
  span.recordException(error, at(offset));
  recorded.get(span.spanContext().spanId).events.push({
    name: 'exception',
    attributes: {
      'exception.type': error.name,
      'exception.message': error.message,
      'exception.stacktrace': error.stack,
    },
    timeUnixNano: nanos(at(offset)),
  });
}

/** Carries `span`'s context across a (pretend) HTTP hop through a real `traceparent` header. */
function propagate(span, what) {
  const headers = {};
  propagator.inject(ctxOf(span), headers, defaultTextMapSetter);
  if (typeof headers.traceparent !== 'string') fail(`no traceparent injected for ${what}`);
  const extracted = propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
  const remote = trace.getSpanContext(extracted);
  if (!remote || remote.spanId !== span.spanContext().spanId || !remote.isRemote) {
    fail(`traceparent ${headers.traceparent} did not round-trip for ${what}`);
  }
  manifest.propagations.push({ what, traceparent: headers.traceparent });
  return extracted;
}

function emitLog(scope, { severityNumber, severityText, body, attributes = {}, span = null, offset }) {
  const logger = loggerProvider.getLogger(scope, '0.24.0');
  const context = span ? ctxOf(span) : ROOT_CONTEXT;
  logger.emit({
    timestamp: at(offset),
    observedTimestamp: at(offset),
    severityNumber,
    severityText,
    body,
    attributes,
    context,
  });
  manifest.logs.push({
    service: 'kestra',
    scope,
    severityNumber,
    severityText,
    body,
    attributes,
    traceId: span ? span.spanContext().traceId : '',
    spanId: span ? span.spanContext().spanId : '',
    timeUnixNano: nanos(at(offset)),
  });
}

// ---------------------------------------------------------------------------
// The workload.
// ---------------------------------------------------------------------------

const EXECUTOR = 'io.kestra.core.runners.Executor';
const WORKER = 'io.kestra.core.runners.Worker';
const HTTP_CLIENT = 'io.kestra.core.http.client.HttpClient';
const NAMESPACE = 'company.team';
const PARENT_FLOW = 'opentelemetry_parent';
const BASIC_FLOW = 'opentelemetry_basic';
const ITEM_FLOW = 'opentelemetry_item';

const parentExecution = `exec-parent-${RUN}`;
const basicExecution = `exec-basic-${RUN}`;
const kestraAttrs = (flowId, executionId, extra = {}) => ({
  'kestra.namespace': NAMESPACE,
  'kestra.flowId': flowId,
  'kestra.executionId': executionId,
  ...extra,
});

// 1. upstream → kestra-webserver: POST /api/v1/executions/{namespace}/{flowId}
const path = `/api/v1/executions/${NAMESPACE}/${PARENT_FLOW}`;
const upstream = startSpan('upstream', 'upstream-client', `POST ${path}`, {
  kind: SpanKind.CLIENT,
  start: 0,
  attributes: {
    'http.request.method': 'POST',
    'url.full': `http://kestra:8080${path}`,
    'server.address': 'kestra',
    'server.port': 8080,
    'http.response.status_code': 200,
  },
});
const webserver = startSpan('kestra-webserver', 'io.micronaut.http.server', `POST ${path}`, {
  kind: SpanKind.SERVER,
  parent: propagate(upstream, 'upstream -> kestra-webserver'),
  start: 5,
  attributes: {
    'http.request.method': 'POST',
    'http.route': '/api/v1/executions/{namespace}/{flowId}',
    'url.path': path,
    'url.scheme': 'http',
    'http.response.status_code': 200,
    'kestra.namespace': NAMESPACE,
    'kestra.flowId': PARENT_FLOW,
    'kestra.executionId': parentExecution,
  },
});
const webCtx = ctxOf(webserver);

// 2. kestra Executor: the parent execution's Subflow task.
const subflowTask = startSpan('kestra', EXECUTOR, 'EXECUTOR - io.kestra.plugin.core.flow.Subflow', {
  parent: webCtx,
  start: 20,
  attributes: kestraAttrs(PARENT_FLOW, parentExecution, { 'kestra.taskId': 'subflow', 'kestra.taskRunId': `tr-subflow-${RUN}` }),
});

// 3. The subflow execution, in the same trace, under the Subflow task.
const basicLog = startSpan('kestra', WORKER, 'WORKER - io.kestra.plugin.core.log.Log', {
  parent: ctxOf(subflowTask),
  start: 40,
  attributes: kestraAttrs(BASIC_FLOW, basicExecution, {
    'kestra.taskId': 'hello',
    'kestra.parentExecutionId': parentExecution,
    'kestra.attempt': 1,
  }),
});
emitLog(WORKER, {
  severityNumber: SeverityNumber.INFO,
  severityText: 'INFO',
  body: `Hello from ${BASIC_FLOW} ✓ (${RUN})`,
  attributes: { 'kestra.executionId': basicExecution, 'kestra.taskId': 'hello' },
  span: basicLog,
  offset: 60,
});
endSpan(basicLog, 90);
endSpan(subflowTask, 120);

// 4. ForEachItem: three child executions as separate traces, linked to the ForEachItem span.
const forEach = startSpan('kestra', EXECUTOR, 'EXECUTOR - io.kestra.plugin.core.flow.ForEachItem', {
  parent: webCtx,
  start: 130,
  attributes: kestraAttrs(PARENT_FLOW, parentExecution, {
    'kestra.taskId': 'each',
    'kestra.forEachItem.batches': 3,
    'kestra.forEachItem.batchSize': 0.5,
  }),
});
const itemTraces = [];
for (let i = 0; i < 3; i++) {
  const itemExecution = `exec-item-${i}-${RUN}`;
  const root = startSpan('kestra', EXECUTOR, 'EXECUTOR - io.kestra.plugin.core.flow.Sequential', {
    parent: ROOT_CONTEXT,
    start: 150 + i * 20,
    attributes: kestraAttrs(ITEM_FLOW, itemExecution, {
      'kestra.taskId': 'seq',
      'kestra.parentExecutionId': parentExecution,
      'kestra.forEachItem.index': i,
    }),
    links: [
      {
        context: forEach.spanContext(),
        attributes: { 'kestra.link': 'foreach-item', 'kestra.link.index': i },
      },
    ],
  });
  const child = startSpan('kestra', WORKER, 'WORKER - io.kestra.plugin.core.log.Log', {
    parent: ctxOf(root),
    start: 160 + i * 20,
    attributes: kestraAttrs(ITEM_FLOW, itemExecution, { 'kestra.taskId': 'log-item' }),
  });
  endSpan(child, 170 + i * 20);
  endSpan(root, 250 + i * 20);
  itemTraces.push({ traceId: root.spanContext().traceId, rootSpanId: root.spanContext().spanId, childSpanId: child.spanContext().spanId });
}
endSpan(forEach, 400);

// 5. HTTP task: Worker span → CLIENT GET → (traceparent) → downstream SERVER.
const httpTask = startSpan('kestra', WORKER, 'WORKER - io.kestra.plugin.core.http.Request', {
  parent: webCtx,
  start: 410,
  attributes: kestraAttrs(PARENT_FLOW, parentExecution, { 'kestra.taskId': 'fetch' }),
});
const httpClient = startSpan('kestra', HTTP_CLIENT, 'GET', {
  kind: SpanKind.CLIENT,
  parent: ctxOf(httpTask),
  start: 420,
  attributes: {
    'http.request.method': 'GET',
    'url.full': 'http://downstream:9000/items?page=1',
    'server.address': 'downstream',
    'server.port': 9000,
    'http.response.status_code': 200,
  },
});
const downstream = startSpan('downstream', 'downstream-http', 'GET /items', {
  kind: SpanKind.SERVER,
  parent: propagate(httpClient, 'kestra GET -> downstream'),
  start: 430,
  attributes: {
    'http.request.method': 'GET',
    'http.route': '/items',
    'url.path': '/items',
    'url.query': 'page=1',
    'http.response.status_code': 200,
    'app.items.returned': 25,
    'app.cache.hit': false,
    'app.tags': ['alpha', 'beta'],
  },
});
endSpan(downstream, 900);
endSpan(httpClient, 910);
endSpan(httpTask, 920);

// 6. A failed shell task: status ERROR, an exception event, an ERROR log in its context.
const failed = startSpan('kestra', WORKER, 'WORKER - io.kestra.plugin.scripts.shell.Commands', {
  parent: webCtx,
  start: 930,
  attributes: kestraAttrs(PARENT_FLOW, parentExecution, { 'kestra.taskId': 'fail', 'kestra.attempt': 1 }),
});
addEvent(failed, 'kestra.task.started', { 'kestra.worker': `worker-${RUN}` }, 940);
const failure = new Error(`Command failed with exit code 1 (${RUN})`);
recordException(failed, failure, 1800);
const failedMessage = `Task fail failed: exit code 1 (${RUN})`;
setError(failed, failedMessage);
emitLog(WORKER, {
  severityNumber: SeverityNumber.ERROR,
  severityText: 'ERROR',
  body: `Command failed with exit code 1: shell task 'fail' failed in ${parentExecution}`,
  attributes: { 'kestra.executionId': parentExecution, 'kestra.taskId': 'fail', 'exit.code': 1 },
  span: failed,
  offset: 1810,
});
endSpan(failed, 1820);

// A Log task in the parent execution, with an INFO log in its context.
const parentLog = startSpan('kestra', WORKER, 'WORKER - io.kestra.plugin.core.log.Log', {
  parent: webCtx,
  start: 1830,
  attributes: kestraAttrs(PARENT_FLOW, parentExecution, { 'kestra.taskId': 'done' }),
});
emitLog(WORKER, {
  severityNumber: SeverityNumber.INFO,
  severityText: 'INFO',
  body: `Parent execution ${parentExecution} reached its last task`,
  attributes: { 'kestra.executionId': parentExecution, 'kestra.taskId': 'done' },
  span: parentLog,
  offset: 1840,
});
endSpan(parentLog, 1850);

// An INFO log without any span context.
emitLog(EXECUTOR, {
  severityNumber: SeverityNumber.INFO,
  severityText: 'INFO',
  body: `Executor started for run ${RUN}`,
  attributes: { 'kestra.server.type': 'STANDALONE' },
  offset: 1860,
});

endSpan(webserver, 1900);
endSpan(upstream, 1910);

const mainTraceId = upstream.spanContext().traceId;
manifest.traces.push({ traceId: mainTraceId, label: 'main', rootSpanId: upstream.spanContext().spanId });
itemTraces.forEach((t, i) => manifest.traces.push({ traceId: t.traceId, label: `foreach-item-${i}`, rootSpanId: t.rootSpanId }));
manifest.roles = {
  mainTraceId,
  upstreamSpanId: upstream.spanContext().spanId,
  webserverSpanId: webserver.spanContext().spanId,
  subflowSpanId: subflowTask.spanContext().spanId,
  forEachItemSpanId: forEach.spanContext().spanId,
  itemTraceIds: itemTraces.map((t) => t.traceId),
  itemRootSpanIds: itemTraces.map((t) => t.rootSpanId),
  httpTaskSpanId: httpTask.spanContext().spanId,
  httpClientSpanId: httpClient.spanContext().spanId,
  downstreamSpanId: downstream.spanContext().spanId,
  failedSpanId: failed.spanContext().spanId,
  failedStatusMessage: failedMessage,
  exceptionMessage: failure.message,
};

// 7. Metrics from service kestra.
const meter = meterProvider.getMeter('io.kestra.core.metrics.MetricRegistry', '0.24.0');
const started = meter.createCounter('kestra.executor.execution.started.count', {
  description: 'The total number of executions started by the executor.',
  unit: '{execution}',
});
const duration = meter.createHistogram('kestra.worker.job.duration', {
  description: 'Duration of a worker job.',
  unit: 'ms',
});
const running = meter.createObservableGauge('kestra.worker.running.count', {
  description: 'The number of jobs currently running on the worker.',
  unit: '{job}',
});
const flowAttrs = (flowId) => ({ namespace: NAMESPACE, flowId });
started.add(1, flowAttrs(PARENT_FLOW));
started.add(1, flowAttrs(BASIC_FLOW));
for (let i = 0; i < 3; i++) started.add(1, flowAttrs(ITEM_FLOW));
const durations = { [PARENT_FLOW]: [12.5, 890], [BASIC_FLOW]: [50] };
for (const [flowId, values] of Object.entries(durations)) for (const v of values) duration.record(v, flowAttrs(flowId));
running.addCallback((result) => {
  result.observe(2, flowAttrs(PARENT_FLOW));
  result.observe(1, flowAttrs(ITEM_FLOW));
});
manifest.metrics = [
  {
    name: 'kestra.executor.execution.started.count',
    type: 'sum',
    unit: '{execution}',
    monotonic: true,
    points: [
      { attributes: flowAttrs(PARENT_FLOW), value: 1 },
      { attributes: flowAttrs(BASIC_FLOW), value: 1 },
      { attributes: flowAttrs(ITEM_FLOW), value: 3 },
    ],
  },
  {
    name: 'kestra.worker.job.duration',
    type: 'histogram',
    unit: 'ms',
    points: Object.entries(durations).map(([flowId, values]) => ({
      attributes: flowAttrs(flowId),
      count: values.length,
      sum: values.reduce((a, b) => a + b, 0),
    })),
  },
  {
    name: 'kestra.worker.running.count',
    type: 'gauge',
    unit: '{job}',
    points: [
      { attributes: flowAttrs(PARENT_FLOW), value: 2 },
      { attributes: flowAttrs(ITEM_FLOW), value: 1 },
    ],
  },
];

// ---------------------------------------------------------------------------
// Flush, shut down, report.
// ---------------------------------------------------------------------------

async function main() {
  const deadline = setTimeout(() => fail('flush/shutdown took longer than 20 s'), 20_000);
  deadline.unref();
  await Promise.all([
    ...Object.values(tracerProviders).map((p) => p.forceFlush()),
    meterProvider.forceFlush(),
    loggerProvider.forceFlush(),
  ]);
  // Shutting a provider down shuts the shared processor down; the others then no-op.
  for (const p of Object.values(tracerProviders)) await p.shutdown();
  await meterProvider.shutdown();
  await loggerProvider.shutdown();
  clearTimeout(deadline);

  if (exportFailures.length > 0) fail(`exports failed:\n${exportFailures.join('\n')}`);
  for (const [signal, n] of Object.entries(exportCounts)) {
    if (n === 0) fail(`no ${signal} export was acknowledged`);
  }
  manifest.exportCounts = exportCounts;
  process.stdout.write(`${JSON.stringify(manifest)}\n`);
}

main().catch((e) => fail(e?.stack ?? String(e)));
