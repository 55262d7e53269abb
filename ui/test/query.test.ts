import { describe, expect, it } from 'vitest';
import { defaultSearch, parseRoute, parseSearch, searchToApiParams, searchToQuery, traceUrl } from '../src/query';

describe('search state in the URL', () => {
  it('round-trips a full search', () => {
    const s = {
      ...defaultSearch(),
      service: 'kestra',
      name: 'EXECUTOR - x',
      q: 'kestra.namespace = "company.team" AND (http.response.status_code >= 500 OR NOT error.type)',
      errors: true,
      minDuration: '100ms',
      maxDuration: '2s',
      range: '6h' as const,
      limit: 100,
    };
    const q = searchToQuery(s);
    expect(parseSearch(q)).toEqual(s);
  });
  it('leaves defaults out', () => {
    expect(searchToQuery(defaultSearch())).toBe('');
    expect(parseSearch('')).toEqual(defaultSearch());
  });
  it('keeps a custom range only when custom', () => {
    const s = { ...defaultSearch(), range: 'custom' as const, from: '2026-11-21T10:00:00Z', to: '2026-11-21T11:00:00Z' };
    const back = parseSearch(searchToQuery(s));
    expect(back.range).toBe('custom');
    expect(back.from).toBe('2026-11-21T10:00:00Z');
    expect(parseSearch('range=1h&from=2026-11-21T10:00:00Z').from).toBe('');
    // from/to without a range means custom
    expect(parseSearch('from=2026-11-21T10:00:00Z').range).toBe('custom');
  });
  it('ignores junk', () => {
    const s = parseSearch('range=banana&limit=0&errors=maybe');
    expect(s.range).toBe('all');
    expect(s.limit).toBe(defaultSearch().limit);
    expect(s.errors).toBe(false);
  });
});

describe('API parameters', () => {
  it('maps the form to /api/v1/traces parameters', () => {
    const s = { ...defaultSearch(), service: 'kestra', name: 'GET', q: ' a = 1 ', errors: true, minDuration: '1ms', range: '15m' as const };
    const p = searchToApiParams(s);
    expect(Object.fromEntries(p)).toEqual({ service: 'kestra', spanName: 'GET', q: 'a = 1', errors: 'true', minDuration: '1ms', start: 'now-15m', limit: '50' });
    expect(searchToApiParams(s, { withQ: false }).has('q')).toBe(false);
  });
  it('sends custom bounds and nothing for all', () => {
    const p = searchToApiParams({ ...defaultSearch(), range: 'custom', from: '2026-11-21T10:00:00Z', to: '' });
    expect(p.get('start')).toBe('2026-11-21T10:00:00Z');
    expect(p.has('end')).toBe(false);
    expect(searchToApiParams(defaultSearch()).has('start')).toBe(false);
  });
});

describe('routes', () => {
  it('parses the trace route with its options', () => {
    const r = parseRoute('/trace/ABCDEF0123456789abcdef0123456789', '?span=00f067aa0ba902b7&stitched=1&group=kestra.executionId&find=fail&tab=logs');
    expect(r).toEqual({
      view: 'trace',
      trace: { traceId: 'abcdef0123456789abcdef0123456789', span: '00f067aa0ba902b7', stitched: true, group: 'kestra.executionId', find: 'fail', tab: 'logs' },
    });
    if (r.view === 'trace') expect(traceUrl(r.trace)).toBe('/trace/abcdef0123456789abcdef0123456789?span=00f067aa0ba902b7&stitched=1&group=kestra.executionId&find=fail&tab=logs');
  });
  it('knows search and unknown paths', () => {
    expect(parseRoute('/', '?service=a').view).toBe('search');
    expect(parseRoute('/nope', '').view).toBe('notfound');
    expect(parseRoute('/trace/xyz', '').view).toBe('notfound');
  });
});

import { completeKeys, completionContext } from '../src/query';
describe('q completion', () => {
  it('completes keys, not values, keywords or quoted text', () => {
    expect(completionContext('kestra.fl', 9)).toEqual({ start: 0, end: 9, prefix: 'kestra.fl' });
    expect(completionContext('a = 1 AND kes', 13)).toEqual({ start: 10, end: 13, prefix: 'kes' });
    expect(completionContext('(NOT err', 8)?.prefix).toBe('err');
    expect(completionContext('a = kes', 7)).toBeNull(); // a value
    expect(completionContext('a >= 5', 6)).toBeNull();
    expect(completionContext('a = "kes', 8)).toBeNull(); // inside quotes
    expect(completionContext('a = 1 kes', 9)).toBeNull(); // after a condition: AND/OR expected
    expect(completionContext('', 0)).toBeNull();
    expect(completionContext('kestra.flowId = x', 3)).toEqual({ start: 0, end: 13, prefix: 'kes' });
  });
  it('ranks prefix matches first', () => {
    expect(completeKeys(['http.route', 'kestra.flowId', 'x.flow', 'kestra.flowId.extra'], 'kestra.fl')).toEqual(['kestra.flowId', 'kestra.flowId.extra']);
    expect(completeKeys(['a.flow', 'flow.x'], 'flow')).toEqual(['flow.x', 'a.flow']);
  });
});
