// The JSON API (docs/api.md): the only backend the UI talks to.

import type { FilterRule } from './settings';
import type { RelatedAnswer, TraceSummary } from './stitch';
import type { OtlpLogsData, OtlpTraceData } from './tree';

/**
 * Sent with every request that changes state: the server refuses writes
 * without it or a JSON body (the cross-site write guard, SECURITY.md). A
 * page on another site cannot send it without a CORS preflight, which
 * Loupe never grants.
 */
export const WRITE_HEADERS: Readonly<Record<string, string>> = { 'X-Loupe-Request': '1' };

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly param?: string,
    readonly position?: number,
  ) {
    super(message);
  }

  /** True when the server does not know the parameter (an older Loupe without `q`, say). */
  get unknownParam(): boolean {
    return this.status === 400 && /unknown parameter/i.test(this.message);
  }
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return request<T>(path, { signal, headers: { Accept: 'application/json' } });
}

async function request<T>(path: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`Loupe is not reachable (${(e as Error).message})`, 0);
  }
  if (!res.ok) {
    let body: { error?: string; param?: string; position?: number } = {};
    try {
      body = (await res.json()) as typeof body;
    } catch {
      /* not JSON */
    }
    throw new ApiError(body.error ?? `${res.status} ${res.statusText}`, res.status, body.param, typeof body.position === 'number' ? body.position : undefined);
  }
  return (await res.json()) as T;
}

export function getServices(signal?: AbortSignal): Promise<{ services: string[] }> {
  return getJson('/api/v1/services', signal);
}

export function getAttributeKeys(signal?: AbortSignal): Promise<{ keys: string[] }> {
  return getJson('/api/v1/attributes', signal);
}

export function searchTraces(params: URLSearchParams, signal?: AbortSignal): Promise<{ traces: TraceSummary[] }> {
  return getJson(`/api/v1/traces?${params.toString()}`, signal);
}

export function getTrace(traceId: string, signal?: AbortSignal): Promise<OtlpTraceData> {
  return getJson(`/api/v1/traces/${encodeURIComponent(traceId)}`, signal);
}

export function getRelated(traceId: string, signal?: AbortSignal): Promise<RelatedAnswer> {
  return getJson(`/api/v1/traces/${encodeURIComponent(traceId)}/related`, signal);
}

export function getTraceLogs(traceId: string, signal?: AbortSignal): Promise<OtlpLogsData> {
  return getJson(`/api/v1/logs?traceId=${encodeURIComponent(traceId)}&limit=10000`, signal);
}

/** Where this Loupe listens (`GET /api/v1/info`). */
export interface Info {
  version: string;
  /** `host:port` for OTLP/gRPC. */
  otlpGrpc: string;
  /** Base URL for OTLP/HTTP. */
  otlpHttp: string;
}

export function getInfo(signal?: AbortSignal): Promise<Info> {
  return getJson('/api/v1/info', signal);
}

function putJson<T>(path: string, body: unknown): Promise<T> {
  return request<T>(path, { method: 'PUT', headers: { ...WRITE_HEADERS, Accept: 'application/json', 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

export interface Health {
  status: 'UP' | 'DOWN';
  details: {
    store: { status: string; fileBytes?: number; lastCommit?: string | null };
    disk: { status: string; free?: number; total?: number; threshold?: number };
  };
}

/** `/health`; a DOWN Loupe answers 503 with the same document, which is returned too. */
export async function getHealth(signal?: AbortSignal): Promise<Health> {
  const res = await fetch('/health', { signal, headers: { Accept: 'application/json' } });
  return (await res.json()) as Health;
}

export function getLogLevel(signal?: AbortSignal): Promise<{ filter: string }> {
  return getJson('/api/v1/settings/log-level', signal);
}

export function putLogLevel(filter: string): Promise<{ filter: string }> {
  return putJson('/api/v1/settings/log-level', { filter });
}

export function getFilters(signal?: AbortSignal): Promise<{ filters: FilterRule[] }> {
  return getJson('/api/v1/settings/filters', signal);
}

export function putFilters(filters: FilterRule[]): Promise<{ filters: FilterRule[] }> {
  return putJson('/api/v1/settings/filters', { filters });
}

export interface MetricInfo {
  name: string;
  type: string;
  unit: string;
  description: string;
  series: number;
  lastPointUnixNano: string;
}

export function getMetrics(params: URLSearchParams, signal?: AbortSignal): Promise<{ metrics: MetricInfo[] }> {
  return getJson(`/api/v1/metrics?${params.toString()}`, signal);
}

export function getChart(name: string, params: URLSearchParams, signal?: AbortSignal): Promise<import('./explore').ChartAnswer> {
  return getJson(`/api/v1/metrics/${encodeURIComponent(name)}/chart?${params.toString()}`, signal);
}

export function searchLogs(params: URLSearchParams, signal?: AbortSignal): Promise<OtlpLogsData> {
  return getJson(`/api/v1/logs?${params.toString()}`, signal);
}

export interface DashboardPanel {
  title: string;
  /** The chart's query string in the metric explorer. */
  chart: string;
}

export function getDashboard(signal?: AbortSignal): Promise<{ panels: DashboardPanel[] }> {
  return getJson('/api/v1/dashboard', signal);
}

export async function saveDashboard(panels: DashboardPanel[]): Promise<{ panels: DashboardPanel[] }> {
  const res = await fetch('/api/v1/dashboard', { method: 'PUT', headers: { ...WRITE_HEADERS, 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify({ panels }) });
  const body = (await res.json().catch(() => ({}))) as { panels?: DashboardPanel[]; error?: string };
  if (!res.ok) throw new ApiError(body.error ?? `${res.status} ${res.statusText}`, res.status);
  return { panels: body.panels ?? [] };
}

/** Recent values of one attribute, most frequent first (for autocompletion). */
export function getAttributeValues(key: string, signal?: AbortSignal): Promise<{ key: string; values: string[] }> {
  return getJson(`/api/v1/attributes/${encodeURIComponent(key)}/values`, signal);
}

// --- trace analysis (docs/api.md, "Trace analysis"); all GET ------------------------

function linkedQuery(linked: boolean): string {
  return linked ? '?linked=true' : '';
}

export function getCriticalPath(traceId: string, linked: boolean, signal?: AbortSignal): Promise<import('./analysis').CriticalPathAnswer> {
  return getJson(`/api/v1/traces/${encodeURIComponent(traceId)}/critical-path${linkedQuery(linked)}`, signal);
}

export function getStatistics(traceId: string, linked: boolean, signal?: AbortSignal): Promise<import('./analysis').StatisticsAnswer> {
  return getJson(`/api/v1/traces/${encodeURIComponent(traceId)}/statistics${linkedQuery(linked)}`, signal);
}

export function getPrevious(traceId: string, linked: boolean, signal?: AbortSignal): Promise<import('./analysis').PreviousAnswer> {
  return getJson(`/api/v1/traces/${encodeURIComponent(traceId)}/previous${linkedQuery(linked)}`, signal);
}

export function getCompare(a: string, b: string, linked: boolean, signal?: AbortSignal): Promise<import('./analysis').CompareAnswer> {
  const p = new URLSearchParams({ a, b });
  if (linked) p.set('linked', 'true');
  return getJson(`/api/v1/compare?${p.toString()}`, signal);
}

/** The service map of the traces a search finds (the `/traces` search parameters). */
export function getTopology(params: URLSearchParams, signal?: AbortSignal): Promise<import('./analysis').TopologyAnswer> {
  return getJson(`/api/v1/topology?${params.toString()}`, signal);
}

export function getServiceMap(traceId: string, linked: boolean, signal?: AbortSignal): Promise<import('./analysis').ServiceMapAnswer> {
  return getJson(`/api/v1/traces/${encodeURIComponent(traceId)}/service-map${linkedQuery(linked)}`, signal);
}
