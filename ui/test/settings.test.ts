import { describe, expect, it } from 'vitest';
import { formatBytes, formatRules, parseRules } from '../src/settings';

describe('filter rules text', () => {
  it('round-trips', () => {
    const rules = [{ name: 'executor off', scope: 'io.kestra.core.runners.Executor' }, { attribute: { key: 'http.route', value: '/health' } }];
    expect(parseRules(formatRules(rules))).toEqual({ rules });
    expect(parseRules('')).toEqual({ rules: [] });
  });

  it('says what is wrong', () => {
    expect(parseRules('{')).toHaveProperty('error');
    expect(parseRules('{}')).toEqual({ error: 'Expected a JSON array of rules: [ {"scope": "…"}, … ]' });
    expect(parseRules('[{"scope": "a", "colour": "red"}]')).toEqual({ error: 'Rule 1: unknown field "colour"' });
    expect(parseRules('[{"scope": "a"}, {"action": "drop"}]')).toEqual({ error: 'Rule 2 needs service, scope, span_name or attribute' });
    expect(parseRules('[{"scope": "a", "action": "hide"}]')).toEqual({ error: 'Rule 1: action is "drop" or "keep"' });
    expect(parseRules('[{"attribute": "x"}]')).toEqual({ error: 'Rule 1: attribute is {"key": "…", "value": "…"}' });
  });
});

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536 * 1024 * 1024)).toBe('1.5 GiB');
  });
});
