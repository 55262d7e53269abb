import { describe, expect, it } from 'vitest';
import {
  chartApiParams,
  flattenLogs,
  formatUnit,
  groupLogs,
  logTemplate,
  logsApiParams,
  logsToQuery,
  metricsToQuery,
  parseLogs,
  parseMetrics,
  pixelAtTime,
  readout,
  timeAtPixel,
  zoomRange,
  type ChartAnswer,
  type Unit,
} from '../src/explore';

const chart: ChartAnswer = {
  svg: '<svg/>',
  width: 656,
  height: 240,
  plot: { x: 56, y: 10, width: 600, height: 200 },
  xStart: '1795255200000000000',
  xEnd: '1795255800000000000', // +600 s
  yMin: 0,
  yMax: 10,
  name: 'm',
  meaning: 'value',
  unit: { kind: 'plain', scale: 1, symbol: '', perSecond: false },
  truncated: [],
  series: [
    {
      label: 'a',
      color: '#111',
      hidden: false,
      points: [
        ['1795255200000000000', 1],
        ['1795255500000000000', 5],
        ['1795255800000000000', null],
      ],
    },
    { label: 'b', color: '#222', hidden: true, points: [['1795255500000000000', 7]] },
  ],
  exemplars: [],
  keys: [],
  values: {},
  distribution: null,
};

describe('metrics state', () => {
  it('round-trips through the URL', () => {
    const s = parseMetrics('?metric=kestra.x&split=flowId,task&agg=max&attr=service.name%3Dkestra&hide=1&range=6h');
    expect(s).toMatchObject({ metric: 'kestra.x', split: ['flowId', 'task'], agg: 'max', attrs: ['service.name=kestra'], hide: [1], range: '6h' });
    expect(parseMetrics(metricsToQuery(s))).toEqual(s);
    expect(parseMetrics('')).toMatchObject({ range: '1h', split: null, agg: 'sum' });
    // A custom range needs both ends in order.
    expect(parseMetrics('?from=20&to=10').range).toBe('1h');
    expect(parseMetrics('?from=10&to=20')).toMatchObject({ range: 'custom', from: '10', to: '20' });
  });

  it('makes the chart API parameters', () => {
    const s = parseMetrics('?metric=m&split=flowId&from=10&to=20');
    const p = chartApiParams(s, 812.4, 260, -60);
    expect(p.toString()).toBe('start=10&end=20&width=812&height=260&split=flowId&agg=sum&tz=-60');
    expect(chartApiParams(parseMetrics('?metric=m'), 100, 260, 0).get('width')).toBe('200');
    expect(chartApiParams(parseMetrics('?metric=m'), 900, 260, 0).get('start')).toBe('now-1h');
  });
});

describe('chart geometry', () => {
  it('maps pixels to times and back', () => {
    expect(timeAtPixel(chart, 56)).toBe('1795255200000000000');
    expect(timeAtPixel(chart, 356)).toBe('1795255500000000000');
    expect(timeAtPixel(chart, 9999)).toBe('1795255800000000000');
    expect(pixelAtTime(chart, '1795255500000000000')).toBe(356);
  });

  it('reads the nearest value of each visible line', () => {
    expect(readout(chart, 350)).toEqual([{ label: 'a', color: '#111', value: 5, time: '1795255500000000000' }]);
    expect(readout(chart, 200)).toEqual([]); // nothing within 40 px
  });

  it('turns a drag into a range', () => {
    expect(zoomRange(chart, 356, 56)).toEqual({ from: '1795255200000000000', to: '1795255500000000000' });
    expect(zoomRange(chart, 100, 103)).toBeNull();
  });

  it('snaps a drag that ends on an edge to that edge', () => {
    // The last pixel of a long chart is seconds before its end, where the newest points are.
    expect(zoomRange(chart, 356, 654)).toEqual({ from: '1795255500000000000', to: '1795255800000000000' });
    expect(zoomRange(chart, 57, 356)).toEqual({ from: '1795255200000000000', to: '1795255500000000000' });
    expect(zoomRange(chart, 356, 600)?.to).not.toBe('1795255800000000000');
  });

  it('formats values in their units like the chart axis', () => {
    // The same examples as crates/charts/src/unit.rs.
    const unit = (u: string): Unit => {
      const per = u.endsWith('/s');
      const b = per ? u.slice(0, -2) : u;
      const t: Record<string, [Unit['kind'], number]> = { s: ['time', 1], ms: ['time', 1e-3], ns: ['time', 1e-9], By: ['bytes', 1], MiBy: ['bytes', 1024 * 1024], '%': ['percent', 1] };
      const [kind, scale] = t[b] ?? ['plain', 1];
      return { kind, scale, symbol: b === 'm' ? 'm' : b === 'Cel' ? '°C' : '', perSecond: per };
    };
    const examples: [string, number, string][] = [
      ['s', 0.8125, '812.5 ms'],
      ['s', 0.81, '810 ms'],
      ['s', 12, '12 s'],
      ['s', 90, '1.5 min'],
      ['s', 0.00025, '250 µs'],
      ['ms', 1500, '1.5 s'],
      ['ns', 42, '42 ns'],
      ['By', 512, '512 B'],
      ['By', 1536, '1.5 KiB'],
      ['By', 5 * 1024 * 1024, '5 MiB'],
      ['MiBy', 2048, '2 GiB'],
      ['%', 42.5, '42.5%'],
      ['1', 0.25, '0.25'],
      ['{request}', 15000, '15k'],
      ['1/s', 0.1, '0.1/s'],
      ['{request}/s', 2.5, '2.5/s'],
      ['By/s', 2048, '2 KiB/s'],
      ['m', 3, '3 m'],
      ['Cel', 21.5, '21.5 °C'],
    ];
    for (const [u, v, want] of examples) expect(formatUnit(v, unit(u)), `${v} ${u}`).toBe(want);
    expect(formatUnit(0.000012, undefined, 3)).toBe('1.2e-5');
    expect(formatUnit(12345, undefined)).toBe('12.35k');
    // p50 and p99 of a duration stay apart in print.
    expect(formatUnit(0.8125, unit('s'))).not.toBe(formatUnit(0.8375, unit('s')));
  });

  it('keeps the chosen percentiles in the URL and the API call', () => {
    const s = parseMetrics('metric=m&pct=p99,max,p50,bogus');
    expect(s.pct).toEqual(['p50', 'p99', 'max']);
    expect(metricsToQuery(s)).toContain('pct=p50%2Cp99%2Cmax');
    expect(chartApiParams(s, 800, 280, 0, 'dark').get('quantiles')).toBe('p50,p99,max');
    expect(chartApiParams(s, 800, 280, 0, 'dark').get('theme')).toBe('dark');
    const d = parseMetrics('metric=m');
    expect(d.pct).toEqual(['p50', 'p90', 'p99']);
    expect(chartApiParams(d, 800, 280, 0).has('quantiles')).toBe(false);
    expect(metricsToQuery(d)).not.toContain('pct');
  });
});

describe('logs', () => {
  const data = {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'kestra' } }] },
        scopeLogs: [
          {
            logRecords: [
              { timeUnixNano: '100', severityNumber: 9, body: { stringValue: 'Task extract completed in 120 ms' } },
              { timeUnixNano: '300', severityNumber: 9, body: { stringValue: 'Task load completed in 87 ms' } },
              { timeUnixNano: '0', observedTimeUnixNano: '200', severityNumber: 17, body: { stringValue: 'Payment refused for order 1042' }, traceId: 'ab', spanId: 'cd' },
            ],
          },
        ],
      },
    ],
  };

  it('flattens newest first with services', () => {
    const rows = flattenLogs(data);
    expect(rows.map((r) => r.timeNs)).toEqual(['300', '200', '100']);
    expect(rows[1]).toMatchObject({ service: 'kestra', severity: 17, traceId: 'ab', spanId: 'cd' });
  });

  it('groups messages by template and severity', () => {
    expect(logTemplate('Execution 4wjLnd0yS6DmMYBGbFFPkx took 1.5 s, id 0x1f "quoted"')).toBe('Execution <*> took <*> s, id <*>');
    expect(logTemplate('user 3f2b6c1e-8a7d-4e55-9c1b-2d7e5a9f0b11 logged in')).toBe('user <*> logged in');
    const g = groupLogs(flattenLogs(data));
    // Different task names stay apart; equal counts: newest first.
    expect(g.map((x) => [x.template, x.count])).toEqual([
      ['Task load completed in <*> ms', 1],
      ['Payment refused for order <*>', 1],
      ['Task extract completed in <*> ms', 1],
    ]);
    const same = groupLogs(
      flattenLogs({ resourceLogs: [{ scopeLogs: [{ logRecords: [1, 2, 3].map((i) => ({ timeUnixNano: String(i), severityNumber: 9, body: { stringValue: `retry ${i}` } })) }] }] }),
    );
    expect(same).toHaveLength(1);
    expect(same[0]).toMatchObject({ template: 'retry <*>', count: 3 });
    expect(same[0]!.newest.timeNs).toBe('3');
  });

  it('round-trips the log search through the URL and the API', () => {
    const s = parseLogs('?q=gateway&severity=17&group=1&range=1h&attr=kestra.taskId%3Dcharge');
    expect(parseLogs(logsToQuery(s))).toEqual(s);
    expect(logsApiParams(s).toString()).toBe('q=gateway&minSeverity=17&attr=kestra.taskId%3Dcharge&start=now-1h&limit=500');
  });
});
