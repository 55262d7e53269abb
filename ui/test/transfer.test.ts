import { describe, expect, it } from 'vitest';
import { describeSkipped, exportFileName, findingList, exportParams, importSearchUrl, importSummary, redactionRows, selectionFromLocation, splitPatterns } from '../src/transfer';

const opts = { logs: true, metrics: false, format: 'jsonl' as const, redact: true, patterns: 'ssn, iban\n' };

describe('export parameters', () => {
  it('exports the trace on a trace page, stitched when shown stitched', () => {
    const sel = selectionFromLocation('/trace/5b8efff798038103d269b633813fc60c', '?stitched=1');
    expect(sel).toEqual({ kind: 'trace', traceId: '5b8efff798038103d269b633813fc60c', linked: true });
    const p = exportParams(sel, opts);
    expect(p.get('traceId')).toBe('5b8efff798038103d269b633813fc60c');
    expect(p.get('linked')).toBe('true');
    expect(p.get('logs')).toBe('true');
    expect(p.has('metrics')).toBe(false);
    expect(p.getAll('redactPattern')).toEqual(['ssn', 'iban']);
  });

  it('exports the search of the list page', () => {
    const sel = selectionFromLocation('/', '?service=kestra&errors=1&range=1h');
    const p = exportParams(sel, { ...opts, redact: false });
    expect(p.get('service')).toBe('kestra');
    expect(p.get('errors')).toBe('true');
    expect(p.get('start')).toBe('now-1h');
    expect(p.get('redact')).toBe('false');
    expect(p.has('redactPattern')).toBe(false);
  });

  it('exports a time window of chosen services', () => {
    const p = exportParams({ kind: 'window', start: 'now-30m', end: '', services: ['api', ' ', 'worker'] }, { ...opts, format: 'html' });
    expect(p.get('window')).toBe('true');
    expect(p.getAll('service')).toEqual(['api', 'worker']);
    expect(p.has('end')).toBe(false);
    expect(p.get('format')).toBe('html');
  });

  it('splits patterns and names files', () => {
    expect(splitPatterns(' a ,,b\nc ')).toEqual(['a', 'b', 'c']);
    const name = exportFileName({ format: 'html' }, { kind: 'trace', traceId: 'abcdef0123', linked: false }, new Date('2026-11-21T10:20:30Z'));
    expect(name).toBe('loupe-trace-abcdef01-2026-11-21-10-20-30.html');
  });
});

describe('summaries', () => {
  it('orders redaction rows by count, then key', () => {
    expect(redactionRows({ total: 6, byKey: { b: 1, a: 1, token: 4 }, findings: [], moreFindings: 0 })).toEqual([
      ['token', 4],
      ['a', 1],
      ['b', 1],
    ]);
  });

  it('lists findings, with a closing line past the kept ones', () => {
    const f = { field: 'db.password', rule: 'key', before: 'db.password=hu…[masked]', after: 'db.password=[REDACTED]' };
    expect(findingList({ total: 1, byKey: {}, findings: [], moreFindings: 0 })).toEqual({ items: [], more: null });
    expect(findingList({ total: 1, byKey: {}, findings: [f], moreFindings: 0 })).toEqual({ items: [f], more: null });
    expect(findingList({ total: 9, byKey: {}, findings: [f], moreFindings: 3 })).toEqual({ items: [f], more: '…and 3 more' });
  });

  it('describes skipped parts by position', () => {
    expect(describeSkipped({ position: { line: 3, column: 7 }, message: 'expected value' })).toBe('line 3, column 7: expected value');
    expect(describeSkipped({ position: { byte: 12 }, message: 'truncated' })).toBe('byte 12: truncated');
    expect(describeSkipped({ position: {}, message: 'x' })).toBe('x');
    expect(importSummary({ source: 'f.jsonl', format: 'jsonLines', bytes: 1, requests: 1, spans: 2, logRecords: 0, dataPoints: 1, rejected: 0, skippedCount: 1, skipped: [] })).toBe(
      'f.jsonl: 2 spans, 0 log records, 1 data points imported; 1 part skipped',
    );
  });

  it('searches an import by its source, quoted', () => {
    expect(new URLSearchParams(importSearchUrl('my "bug".jsonl').slice(2)).get('q')).toBe('loupe.import.source="my \\"bug\\".jsonl"');
  });
});
