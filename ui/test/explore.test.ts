import { describe, expect, it } from 'vitest';
import {
  chartApiParams,
  flattenLogs,
  formatValue,
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

  it('formats values compactly', () => {
    expect(formatValue(2.5)).toBe('2.5');
    expect(formatValue(12345)).toBe('12.35k');
    expect(formatValue(0.00125)).toBe('1.25m');
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
