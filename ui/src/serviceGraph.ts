// Layout of a service map (services and caller → callee edges, from the
// server's analysis) with dagre (@dagrejs/dagre): a layered layout for
// directed graphs, which is what call graphs are (mostly acyclic, read in
// the direction of the calls). Pure: positions only, the view draws them.

import dagre from '@dagrejs/dagre';
import type { ServiceEdge } from './analysis';
import { formatDuration } from './format';

export interface GraphNode {
  id: string;
  /** Centre and size, in px. */
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface GraphEdge {
  edge: ServiceEdge;
  /** The polyline from caller to callee. */
  points: { x: number; y: number }[];
  /** Where its label goes (centre). */
  lx: number;
  ly: number;
  label: string;
}

export interface ServiceGraph {
  width: number;
  height: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

const CHAR_PX = 7;
const NODE_H = 30;
const LABEL_H = 16;

/** The one-line label of an edge: "12 calls · 1 err · p50 3ms · p95 9ms". */
export function edgeLabel(e: ServiceEdge): string {
  const err = e.errors ? ` · ${e.errors} err` : '';
  return `${e.count} call${e.count === 1 ? '' : 's'}${err} · p50 ${formatDuration(Number(e.p50))} · p95 ${formatDuration(Number(e.p95))}`;
}

/** Lays the services out, callers before callees (`LR`: left to right, `TB`: top to bottom). */
export function layoutServiceGraph(services: readonly string[], edges: readonly ServiceEdge[], rankdir: 'LR' | 'TB' = 'LR'): ServiceGraph {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir, nodesep: 24, ranksep: rankdir === 'LR' ? 70 : 50, edgesep: 12, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const names = new Set(services);
  for (const e of edges) {
    names.add(e.caller);
    names.add(e.callee);
  }
  // Sorted: the same answer always gives the same picture.
  for (const s of [...names].sort()) g.setNode(s, { width: Math.max(60, s.length * CHAR_PX + 20), height: NODE_H });
  const labels = new Map<string, string>();
  for (const e of edges) {
    if (e.caller === e.callee) continue;
    const label = edgeLabel(e);
    labels.set(`${e.caller}\u0000${e.callee}`, label);
    g.setEdge(e.caller, e.callee, { width: label.length * 6, height: LABEL_H, labelpos: 'c' });
  }
  dagre.layout(g);
  const nodes: GraphNode[] = g.nodes().map((id: string) => {
    const n = g.node(id);
    return { id, x: n.x ?? 0, y: n.y ?? 0, w: n.width, h: n.height };
  });
  const out: GraphEdge[] = [];
  for (const e of edges) {
    if (e.caller === e.callee) continue;
    const l = g.edge(e.caller, e.callee);
    if (!l) continue;
    const points = (l.points ?? []).map((p: { x: number; y: number }) => ({ x: p.x, y: p.y }));
    const mid = points[Math.floor(points.length / 2)] ?? { x: 0, y: 0 };
    out.push({ edge: e, points, lx: l.x ?? mid.x, ly: l.y ?? mid.y, label: labels.get(`${e.caller}\u0000${e.callee}`) ?? '' });
  }
  const gl = g.graph();
  return { width: Math.ceil(gl.width ?? 0), height: Math.ceil(gl.height ?? 0), nodes, edges: out };
}
