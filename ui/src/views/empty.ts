// What to show before any trace has arrived: where to send telemetry.

import { getInfo, type Info } from '../api';
import { copyText, h } from '../dom';

/** The defaults, shown until `/api/v1/info` answers (or if it cannot). */
const DEFAULT_ENDPOINTS: Pick<Info, 'otlpGrpc' | 'otlpHttp'> = { otlpGrpc: '127.0.0.1:4317', otlpHttp: 'http://127.0.0.1:4318' };

/** Copy-paste set-ups for common SDKs, pointed at `http`, the OTLP/HTTP base URL. */
export function snippets(http: string): { label: string; code: string }[] {
  return [
    {
      label: 'Any SDK (environment)',
      code: ['export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318', 'export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf', 'export OTEL_SERVICE_NAME=my-service'].join('\n'),
    },
    {
      label: 'Python',
      code: [
        'pip install opentelemetry-distro opentelemetry-exporter-otlp',
        'OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \\',
        'OTEL_SERVICE_NAME=my-service \\',
        '  opentelemetry-instrument python app.py',
      ].join('\n'),
    },
    {
      label: 'Node.js',
      code: [
        'npm install @opentelemetry/auto-instrumentations-node',
        'OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \\',
        'OTEL_SERVICE_NAME=my-service \\',
        '  node --require @opentelemetry/auto-instrumentations-node/register app.js',
      ].join('\n'),
    },
    {
      label: 'Java',
      code: ['OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \\', 'OTEL_SERVICE_NAME=my-service \\', '  java -javaagent:opentelemetry-javaagent.jar -jar app.jar'].join('\n'),
    },
  ].map((s) => ({ ...s, code: s.code.replaceAll('http://127.0.0.1:4318', http) }));
}

function snippet(label: string, code: string): HTMLElement {
  const btn = h('button', { class: 'btn small copy', text: 'Copy' });
  btn.addEventListener('click', () => {
    void copyText(code).then((ok) => {
      btn.textContent = ok ? 'Copied' : 'Select and copy';
      setTimeout(() => (btn.textContent = 'Copy'), 1500);
    });
  });
  return h('div', { class: 'snippet' }, h('div', { class: 'snippet-head' }, h('span', { text: label }), btn), h('pre', { text: code }));
}

export function emptyState(): HTMLElement {
  const el = render(DEFAULT_ENDPOINTS);
  // The real addresses differ from the defaults after --http-addr or the
  // desktop's "use other ports".
  void getInfo()
    .then((info) => {
      if (info.otlpGrpc !== DEFAULT_ENDPOINTS.otlpGrpc || info.otlpHttp !== DEFAULT_ENDPOINTS.otlpHttp) el.replaceChildren(...render(info).childNodes);
    })
    .catch(() => {
      /* an older Loupe: keep the defaults */
    });
  return el;
}

function render(endpoints: Pick<Info, 'otlpGrpc' | 'otlpHttp'>): HTMLElement {
  return h(
    'section',
    { class: 'empty-state', testid: 'empty-state' },
    h('h2', { text: 'No traces yet' }),
    h('p', { text: 'Loupe is listening. Point an OpenTelemetry SDK or Collector at it and traces show up here as they arrive.' }),
    h(
      'dl',
      { class: 'endpoints' },
      h('dt', { text: 'OTLP/gRPC' }),
      h('dd', null, h('code', { text: endpoints.otlpGrpc })),
      h('dt', { text: 'OTLP/HTTP' }),
      h('dd', null, h('code', { text: endpoints.otlpHttp }), ' (', h('code', { text: '/v1/traces' }), ', ', h('code', { text: '/v1/metrics' }), ', ', h('code', { text: '/v1/logs' }), ')'),
    ),
    h('div', { class: 'snippets' }, ...snippets(endpoints.otlpHttp).map((s) => snippet(s.label, s.code))),
    h(
      'p',
      { class: 'hint' },
      'Just want to look around? Run ',
      h('code', { text: 'loupe demo' }),
      ' to send a demo workload (an API call, a workflow execution with a subflow, linked child traces, a failing task and its logs).',
    ),
  );
}
