// Export and import: the pure part (parameters, labels, summaries), unit-tested.
// The dialog in views/transfer.ts only renders what these compute.

import { parseRoute, searchToApiParams } from './query';

/** What an export covers, as the export dialog offers it. */
export type ExportSelection = { kind: 'trace'; traceId: string; linked: boolean } | { kind: 'search'; params: URLSearchParams } | { kind: 'window'; start: string; end: string; services: string[] };

export interface ExportOptions {
  logs: boolean;
  metrics: boolean;
  format: 'jsonl' | 'html';
  redact: boolean;
  /** Extra redaction patterns, comma- or newline-separated as typed. */
  patterns: string;
}

/** The selection the current page suggests: its trace (stitched if shown so), or its search. */
export function selectionFromLocation(pathname: string, search: string): ExportSelection {
  const route = parseRoute(pathname, search);
  if (route.view === 'trace') return { kind: 'trace', traceId: route.trace.traceId, linked: route.trace.stitched };
  if (route.view === 'search') {
    const p = searchToApiParams(route.search);
    return { kind: 'search', params: p };
  }
  return { kind: 'window', start: 'now-1h', end: '', services: [] };
}

/** `GET /api/v1/export` (and `/export/preview`) parameters. */
export function exportParams(sel: ExportSelection, o: ExportOptions): URLSearchParams {
  const p = new URLSearchParams();
  if (sel.kind === 'trace') {
    p.set('traceId', sel.traceId);
    if (sel.linked) p.set('linked', 'true');
  } else if (sel.kind === 'search') {
    for (const [k, v] of sel.params) p.append(k, v);
  } else {
    p.set('window', 'true');
    if (sel.start.trim()) p.set('start', sel.start.trim());
    if (sel.end.trim()) p.set('end', sel.end.trim());
    for (const s of sel.services) if (s.trim()) p.append('service', s.trim());
  }
  if (o.logs) p.set('logs', 'true');
  if (o.metrics) p.set('metrics', 'true');
  p.set('format', o.format);
  p.set('redact', String(o.redact));
  if (o.redact) for (const pat of splitPatterns(o.patterns)) p.append('redactPattern', pat);
  return p;
}

export function splitPatterns(s: string): string[] {
  return s
    .split(/[,\n]/)
    .map((x) => x.trim())
    .filter((x) => x.length > 0);
}

export type { ExportSummary, RedactionFinding, RedactionReport } from './generated/api';
import type { FilePosition as Position, ImportReport, RedactionFinding, RedactionReport, Skipped } from './generated/api';

/** Keys and counts of what redaction removes, most first (then by key). */
export function redactionRows(r: RedactionReport): Array<[string, number]> {
  return Object.entries(r.byKey).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** The findings to list, and a closing line when the server kept only the first ones. */
export function findingList(r: RedactionReport): { items: RedactionFinding[]; more: string | null } {
  const items = r.findings ?? [];
  const n = r.moreFindings ?? 0;
  return { items, more: n > 0 ? `…and ${n} more` : null };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function exportFileName(o: Pick<ExportOptions, 'format'>, sel: ExportSelection, now = new Date()): string {
  const stamp = now.toISOString().slice(0, 19).replace(/[:T]/g, '-');
  const what = sel.kind === 'trace' ? `trace-${sel.traceId.slice(0, 8)}` : sel.kind;
  return `loupe-${what}-${stamp}.${o.format}`;
}

export type { FilePosition as Position, ImportReport, Skipped } from './generated/api';

export function describePosition(p: Position | undefined): string {
  if (!p) return '';
  if (p.line !== undefined) return p.column !== undefined ? `line ${p.line}, column ${p.column}` : `line ${p.line}`;
  if (p.byte !== undefined) return `byte ${p.byte}`;
  return '';
}

export function describeSkipped(s: Skipped): string {
  const at = describePosition(s.position);
  return at ? `${at}: ${s.message}` : s.message;
}

export function importSummary(r: ImportReport): string {
  const parts = [`${r.spans} spans`, `${r.logRecords} log records`, `${r.dataPoints} data points`];
  let s = `${r.source}: ${parts.join(', ')} imported`;
  if (r.skippedCount) s += `; ${r.skippedCount} part${r.skippedCount === 1 ? '' : 's'} skipped`;
  if (r.rejected) s += `; ${r.rejected} with invalid IDs dropped`;
  return s;
}

/** The trace search (`/?q=…`) that shows what an import brought. */
export function importSearchUrl(source: string): string {
  const q = `loupe.import.source="${source.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return `/?${new URLSearchParams({ q }).toString()}`;
}
