import { describe, expect, it } from 'vitest';
import {
  addChild,
  at,
  badgeText,
  channelBody,
  condText,
  groups,
  move,
  readings,
  newPred,
  parseValue,
  remove,
  setKind,
  simplify,
  testResultText,
  toggleNot,
  unwrap,
  valueSource,
  wrap,
  type Cond,
} from '../src/rules';

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
  it('removes nodes and never collapses a group silently', () => {
    const c: Cond = { all: [status, { any: [prefix, cleanup] }] };
    // A group left with one member stays a group (the editor offers "Ungroup").
    expect(remove(c, [1, 0])).toEqual({ when: { all: [status, { any: [cleanup] }] }, note: '' });
    expect(remove(c, [0])).toEqual({ when: { all: [{ any: [prefix, cleanup] }] }, note: '' });
    expect(remove(status, []).when).toBeUndefined();
    expect(remove({ not: status }, [0]).when).toBeUndefined();
    // A group left empty goes, and the note says so.
    const r = remove({ all: [status, { any: [prefix] }] }, [1, 0]);
    expect(r.when).toEqual({ all: [status] });
    expect(r.note).toMatch(/empty was removed/);
    expect(simplify({ all: [{ any: [] }, status] })).toEqual(status);
    // Out-of-range paths change nothing.
    expect(remove(c, [5]).when).toEqual(c);
  });
  it('wraps in a group, ungroups a group of one, lists groups', () => {
    const c: Cond = { all: [status, prefix] };
    const w = wrap(c, [1], 'any');
    expect(w).toEqual({ all: [status, { any: [prefix] }] });
    expect(unwrap(w, [1])).toEqual(c);
    // Ungrouping a group of two would change its meaning: refused.
    expect(unwrap(c, [])).toEqual(c);
    expect(groups(w).map((g) => [g.path, g.kind])).toEqual([
      [[], 'all'],
      [[1], 'any'],
    ]);
  });
  it('moves a predicate between groups: the seed rule fixed by hand', () => {
    // The seed's bad example typed flat: status AND prefix AND flowId AND namespace.
    const flow: Cond = { field: 'kestra.flowId', op: 'equals', value: 'cleanup' };
    const system: Cond = { field: 'kestra.namespace', op: 'equals', value: 'company.system' };
    let c: Cond = { all: [status, prefix, flow, system] };
    // Wrap the prefix in an OR, add the cleanup branch beside it, then move
    // both cleanup predicates into that branch.
    c = wrap(c, [1], 'any');
    c = addChild(c, [1], { all: [] as Cond[] });
    let r = move(c, [2], [1, 1]);
    expect(r.note).toBe('');
    c = r.when as Cond;
    r = move(c, [2], [1, 1]);
    c = r.when as Cond;
    expect(c).toEqual({ all: [status, { any: [prefix, { all: [flow, system] }] }] });
    // Moving the last member out of a group removes it, with a note.
    r = move(c, [1, 1, 0], []);
    r = move(r.when as Cond, [1, 1, 0], []);
    expect(r.note).toMatch(/empty was removed/);
    expect(r.when).toEqual({ all: [status, { any: [prefix] }, flow, system] });
    // Into itself, or into a predicate: refused, unchanged.
    expect(move(c, [1], [1, 1]).when).toEqual(c);
    expect(move(c, [1], [1, 1]).note).toMatch(/itself/);
    expect(move(c, [0], [1, 0]).when).toEqual(c);
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

describe('channels', () => {
  it('send a trimmed body; a desktop channel has no URL', () => {
    expect(channelBody({ name: ' slack ', kind: 'slack', url: ' http://127.0.0.1:9/h ', allowPrivate: true, template: '' })).toEqual({
      name: 'slack',
      kind: 'slack',
      url: 'http://127.0.0.1:9/h',
      allowPrivate: true,
      template: '',
    });
    expect(channelBody({ name: 'd', kind: 'desktop', url: 'x', allowPrivate: false, template: '' }).url).toBe('');
  });
  it('say how a test delivery went', () => {
    expect(testResultText({ queued: true, result: 'delivered', status: 200, error: '', attempts: 1 })).toBe('delivered (HTTP 200)');
    expect(testResultText({ queued: true, result: 'delivered', status: 200, error: '', attempts: 3 })).toBe('delivered (HTTP 200) after 3 attempts');
    expect(testResultText({ queued: true, result: 'failed', status: 404, error: 'refused with 404: not retried', attempts: 1 })).toBe('failed (HTTP 404): refused with 404: not retried');
    expect(testResultText({ queued: true, result: 'retrying', status: null, error: 'cannot connect', attempts: 2 })).toMatch(/^still retrying: cannot connect/);
    expect(testResultText({ queued: true, result: null, status: null, error: '', attempts: 0 })).toMatch(/^queued/);
    expect(testResultText({ queued: false, result: null, status: null, error: '', attempts: 0 })).toMatch(/^not sent/);
  });
});
