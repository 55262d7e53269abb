import { describe, expect, it } from 'vitest';
import { contextValues, DEFAULT_CONTEXT_KEYS, MAX_CONTEXT_KEYS, parseContextKeys, shortKey } from '../src/context';

describe('context keys', () => {
  it('parses a comma or newline list: trimmed, no blanks or repeats, bounded', () => {
    expect(parseContextKeys(' kestra.flowId, ,http.route\nkestra.flowId ')).toEqual(['kestra.flowId', 'http.route']);
    expect(parseContextKeys(Array.from({ length: 20 }, (_, i) => `k${i}`).join(',')).length).toBe(MAX_CONTEXT_KEYS);
    expect(parseContextKeys(`${'x'.repeat(129)},ok`)).toEqual(['ok']);
    expect(DEFAULT_CONTEXT_KEYS).toContain('kestra.executionId');
  });
  it('labels a chip by the last part of its key', () => {
    expect(shortKey('kestra.executionId')).toBe('executionId');
    expect(shortKey('plain')).toBe('plain');
    expect(shortKey('trailing.')).toBe('trailing.');
  });
  it('finds values on the span first, then the resource, in the keys order', () => {
    const span = [{ key: 'kestra.flowId', value: { stringValue: 'orders' } }];
    const res = [
      { key: 'kestra.namespace', value: { stringValue: 'company.team' } },
      { key: 'kestra.flowId', value: { stringValue: 'ignored' } },
    ];
    expect(contextValues(['kestra.namespace', 'kestra.flowId', 'db.system'], span, res)).toEqual([
      { key: 'kestra.namespace', value: 'company.team' },
      { key: 'kestra.flowId', value: 'orders' },
    ]);
  });
});
