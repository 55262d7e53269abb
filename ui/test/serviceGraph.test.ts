import { describe, expect, it } from 'vitest';
import type { ServiceEdge } from '../src/analysis';
import { edgeLabel, layoutServiceGraph } from '../src/serviceGraph';

const edge = (caller: string, callee: string, count = 1, errors = 0): ServiceEdge => ({ caller, callee, count, errors, p50: '3000000', p95: '9000000', traces: ['t1'] });

describe('service graph layout', () => {
  const edges = [edge('upstream', 'kestra-webserver'), edge('kestra-webserver', 'kestra', 12, 1), edge('kestra', 'downstream')];
  const services = ['downstream', 'kestra', 'kestra-webserver', 'upstream'];
  it('places callers before callees, left to right', () => {
    const g = layoutServiceGraph(services, edges, 'LR');
    const x = Object.fromEntries(g.nodes.map((n) => [n.id, n.x]));
    expect(g.nodes.map((n) => n.id).sort()).toEqual(services);
    expect(x.upstream!).toBeLessThan(x['kestra-webserver']!);
    expect(x['kestra-webserver']!).toBeLessThan(x.kestra!);
    expect(x.kestra!).toBeLessThan(x.downstream!);
    expect(g.width).toBeGreaterThan(0);
    expect(g.height).toBeGreaterThan(0);
  });
  it('routes every edge with a labelled polyline inside the drawing', () => {
    const g = layoutServiceGraph(services, edges, 'TB');
    expect(g.edges).toHaveLength(3);
    for (const e of g.edges) {
      expect(e.points.length).toBeGreaterThanOrEqual(2);
      for (const p of e.points) {
        expect(p.x).toBeGreaterThanOrEqual(0);
        expect(p.x).toBeLessThanOrEqual(g.width);
        expect(p.y).toBeGreaterThanOrEqual(0);
        expect(p.y).toBeLessThanOrEqual(g.height);
      }
    }
    const y = Object.fromEntries(g.nodes.map((n) => [n.id, n.y]));
    expect(y.upstream!).toBeLessThan(y.downstream!);
  });
  it('keeps services without edges, skips self-calls, and is deterministic', () => {
    const g = layoutServiceGraph(['lonely', 'a', 'b'], [edge('a', 'b'), edge('a', 'a')]);
    expect(g.nodes.map((n) => n.id).sort()).toEqual(['a', 'b', 'lonely']);
    expect(g.edges).toHaveLength(1);
    expect(layoutServiceGraph(['lonely', 'a', 'b'], [edge('a', 'b')])).toEqual(layoutServiceGraph(['b', 'a', 'lonely'], [edge('a', 'b')]));
  });
  it('labels edges with counts, errors and percentiles', () => {
    expect(edgeLabel(edge('a', 'b', 12, 1))).toBe('12 calls · 1 err · p50 3ms · p95 9ms');
    expect(edgeLabel(edge('a', 'b'))).toBe('1 call · p50 3ms · p95 9ms');
  });
});
