import { describe, expect, it } from 'vitest';
import { addChild, at, badgeText, condText, readings, newPred, parseValue, remove, setKind, simplify, toggleNot, valueSource, type Cond } from '../src/rules';

const status: Cond = { field: 'span.status', op: 'equals', value: 'error' };
const prefix: Cond = { field: 'kestra.namespace', op: 'prefix', value: 'company.product' };
const cleanup: Cond = {
  all: [
    { field: 'kestra.flowId', op: 'equals', value: 'cleanup' },
    { field: 'kestra.namespace', op: 'equals', value: 'company.system' },
  ],
};

describe('condition tree edits', () => {
  it('builds the seed rule step by step', () => {
    let c = addChild(undefined, [], status);
    expect(c).toEqual(status);
    c = addChild(c, [], prefix);
    expect(c).toEqual({ all: [status, prefix] });
    c = addChild(c, [], cleanup);
    expect(c).toEqual({ all: [status, prefix, cleanup] });
    // The bad version: everything under one AND. The fix: an OR of the last two.
    c = { all: [status, { any: [prefix, cleanup] }] };
    expect(at(c, [1, 1, 0])).toEqual({ field: 'kestra.flowId', op: 'equals', value: 'cleanup' });
  });
  it('switches AND/OR and negates', () => {
    const c: Cond = { all: [status, prefix] };
    expect(setKind(c, [], 'any')).toEqual({ any: [status, prefix] });
    expect(toggleNot(c, [1])).toEqual({ all: [status, { not: prefix }] });
    expect(toggleNot(toggleNot(c, [1]), [1])).toEqual(c);
    // A predicate is not a group: switching it does nothing.
    expect(setKind(c, [0], 'any')).toEqual(c);
  });
  it('removes nodes and collapses single-member groups', () => {
    const c: Cond = { all: [status, { any: [prefix, cleanup] }] };
    expect(remove(c, [1, 0])).toEqual({ all: [status, cleanup] });
    expect(remove(c, [0])).toEqual({ any: [prefix, cleanup] });
    expect(remove(status, [])).toBeUndefined();
    expect(remove({ not: status }, [0])).toBeUndefined();
    expect(simplify({ all: [{ any: [] }, status] })).toEqual(status);
    // Out-of-range paths change nothing.
    expect(remove(c, [5])).toEqual(c);
  });
  it('keeps typed values like YAML', () => {
    expect(parseValue('500')).toBe(500);
    expect(parseValue('0.5')).toBe(0.5);
    expect(parseValue('true')).toBe(true);
    expect(parseValue('company.')).toBe('company.');
    expect(parseValue('1e3')).toBe('1e3');
    expect(parseValue('')).toBe('');
  });
  it('offers defaults per signal and a badge', () => {
    expect(newPred('logs').field).toBe('log.severity');
    expect(newPred('traces')).toEqual(status);
    expect(badgeText(0)).toBe('');
    expect(badgeText(3)).toBe('3');
  });
});

describe('value suggestions', () => {
  it('come from the services, an attribute, or nowhere', () => {
    expect(valueSource('service')).toBe('services');
    expect(valueSource('kestra.namespace')).toBe('attribute');
    expect(valueSource('span.status')).toBeNull();
    expect(valueSource('log.body')).toBeNull();
    expect(valueSource('')).toBeNull();
  });
});

describe('fix preview text', () => {
  const system = {
    all: [
      { field: 'kestra.namespace', op: 'equals' as const, value: 'company.system' },
      { field: 'kestra.flowId', op: 'equals' as const, value: 'cleanup' },
    ],
  };
  const fixed = { all: [{ field: 'span.status', op: 'equals' as const, value: 'error' }, { any: [{ field: 'kestra.namespace', op: 'prefix' as const, value: 'company.product' }, system] }] };

  it('writes a condition as one line with its groups', () => {
    expect(condText(fixed)).toBe('(span.status equals error AND (kestra.namespace prefix company.product OR (kestra.namespace equals company.system AND kestra.flowId equals cleanup)))');
    expect(condText({ not: { field: 'x', op: 'exists' } })).toBe('NOT x exists');
  });

  it('offers the suggestion first, then the alternatives', () => {
    const plain = { field: 'x', op: 'exists' as const };
    expect(readings({ path: [], conflicts: [], message: '', suggestion: fixed, alternatives: [plain] })).toEqual([fixed, plain]);
    expect(readings({ path: [], conflicts: [], message: '', suggestion: fixed })).toEqual([fixed]);
  });
});
