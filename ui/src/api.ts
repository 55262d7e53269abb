// The JSON API (docs/api.md): the only backend the UI talks to, and the
// only module that calls `fetch` (or sends an upload). One typed function
// per route; the answer types are generated from the server's Rust types
// (./generated/api.ts). OTLP/JSON answers (a trace, logs) and `/health`
// are typed by hand in tree.ts and below.

import type {
  AttributeKeys,
  AttributeValues,
  CompareAnswer,
  CriticalPathAnswer,
  Dashboard,
  DashboardPanel,
  Deleted,
  ErrorBody,
  ExportSummary,
  FilterRule,
  Filters,
  Health,
  ImportReport,
  Imports,
  Info,
  LogLevel,
  Metrics,
  PreviousAnswer,
  Related,
  ServiceMapAnswer,
  Summary,
  TopologyAnswer,
  Services,
  StatisticsAnswer,
  Traces,
  ChartAnswer,
} from './generated/api';
import type { OtlpLogsData, OtlpTraceData } from './tree';
import { currentTheme } from './theme';
import { markLightSvg } from './chartTheme';

export type { DashboardPanel, Health, Info, MetricInfo } from './generated/api';

/**
 * Sent with every request that changes state: the server refuses writes
 * without it or a JSON body (the cross-site write guard, SECURITY.md). A
 * page on another site cannot send it without a CORS preflight, which
 * Loupe never grants.
 */
export const WRITE_HEADERS: Readonly<Record<string, string>> = { 'X-Loupe-Request': '1' };

/** A failed call: the status and the API's one error body (docs/api.md, "Errors"). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly param?: string,
    readonly position?: number,
    readonly errors?: ErrorBody['errors'],
  ) {
    super(message);
  }

  /** From an error answer's body, or its status when the body is not JSON. */
  static of(status: number, statusText: string, body: Partial<ErrorBody> | null): ApiError {
    const b = body ?? {};
    return new ApiError(b.error ?? `${status} ${statusText}`, status, b.param, typeof b.position === 'number' ? b.position : undefined, b.errors);
  }

  /** True when the server does not know the parameter (an older Loupe without `q`, say). */
  get unknownParam(): boolean {
    return this.status === 400 && /unknown parameter/i.test(this.message);
  }
}

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return request<T>(path, { signal, headers: { Accept: 'application/json' } });
}

/** `fetch`, with an unreachable Loupe as an `ApiError` (status 0) and an error answer thrown as one. */
async function send(path: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`Loupe is not reachable (${(e as Error).message})`, 0);
  }
  if (!res.ok) {
    let body: Partial<ErrorBody> | null = null;
    try {
      body = (await res.json()) as Partial<ErrorBody>;
    } catch {
      /* not JSON */
    }
    throw ApiError.of(res.status, res.statusText, body);
  }
  return res;
}

async function request<T>(path: string, init: RequestInit): Promise<T> {
  const res = await send(path, init);
  return (await res.json()) as T;
}

export function getServices(signal?: AbortSignal): Promise<Services> {
  return getJson('/api/v1/services', signal);
}

export function getAttributeKeys(signal?: AbortSignal): Promise<AttributeKeys> {
  return getJson('/api/v1/attributes', signal);
}

export function searchTraces(params: URLSearchParams, signal?: AbortSignal): Promise<Traces> {
  return getJson(`/api/v1/traces?${params.toString()}`, signal);
}

export function getTrace(traceId: string, signal?: AbortSignal): Promise<OtlpTraceData> {
  return getJson(`/api/v1/traces/${encodeURIComponent(traceId)}`, signal);
}

export function getRelated(traceId: string, signal?: AbortSignal): Promise<Related> {
  return getJson(`/api/v1/traces/${encodeURIComponent(traceId)}/related`, signal);
}

/** One trace's summary: incomplete, still receiving, awaiting its parents (the trace page polls it). */
export function getTraceSummary(traceId: string, signal?: AbortSignal): Promise<Summary> {
  return getJson(`/api/v1/traces/${encodeURIComponent(traceId)}/summary`, signal);
}

export function getTraceLogs(traceId: string, signal?: AbortSignal): Promise<OtlpLogsData> {
  return getJson(`/api/v1/logs?traceId=${encodeURIComponent(traceId)}&limit=10000`, signal);
}

/** Where this Loupe listens (`GET /api/v1/info`). */
export function getInfo(signal?: AbortSignal): Promise<Info> {
  return getJson('/api/v1/info', signal);
}

/** A state-changing request with a JSON body (or none); carries `WRITE_HEADERS`. */
function writeJson<T>(method: 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  return request<T>(path, {
    method,
    headers: { ...WRITE_HEADERS, Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

function putJson<T>(path: string, body: unknown): Promise<T> {
  return writeJson<T>('PUT', path, body);
}

/** `/health`; a DOWN Loupe answers 503 with the same document, which is returned too. */
export async function getHealth(signal?: AbortSignal): Promise<Health> {
  const res = await fetch('/health', { signal, headers: { Accept: 'application/json' } });
  return (await res.json()) as Health;
}

export function getLogLevel(signal?: AbortSignal): Promise<LogLevel> {
  return getJson('/api/v1/settings/log-level', signal);
}

export function putLogLevel(filter: string): Promise<LogLevel> {
  return putJson('/api/v1/settings/log-level', { filter });
}

export function getFilters(signal?: AbortSignal): Promise<Filters> {
  return getJson('/api/v1/settings/filters', signal);
}

/** Rules as the user wrote them (`action` may be left out: drop). */
export function putFilters(filters: (Omit<FilterRule, 'action'> & { action?: FilterRule['action'] })[]): Promise<Filters> {
  return putJson('/api/v1/settings/filters', { filters });
}

export function getMetrics(params: URLSearchParams, signal?: AbortSignal): Promise<Metrics> {
  return getJson(`/api/v1/metrics?${params.toString()}`, signal);
}

/**
 * A metric's chart, drawn by the server for the theme in force (`theme=light|dark`,
 * unless the caller chose one). A chart on a white background is marked `on-light`
 * (style.css inverts it in the dark theme), so a theme switch never shows a white slab.
 */
export async function getChart(name: string, params: URLSearchParams, signal?: AbortSignal): Promise<ChartAnswer> {
  const p = new URLSearchParams(params);
  if (!p.has('theme')) p.set('theme', currentTheme());
  const c = await getJson<ChartAnswer>(`/api/v1/metrics/${encodeURIComponent(name)}/chart?${p.toString()}`, signal);
  c.svg = markLightSvg(c.svg);
  if (c.distribution) c.distribution.svg = markLightSvg(c.distribution.svg);
  return c;
}

export function searchLogs(params: URLSearchParams, signal?: AbortSignal): Promise<OtlpLogsData> {
  return getJson(`/api/v1/logs?${params.toString()}`, signal);
}

export function getDashboard(signal?: AbortSignal): Promise<Dashboard> {
  return getJson('/api/v1/dashboard', signal);
}

export function saveDashboard(panels: DashboardPanel[]): Promise<Dashboard> {
  return putJson('/api/v1/dashboard', { panels });
}

/** Recent values of one attribute, most frequent first (for autocompletion). */
export function getAttributeValues(key: string, signal?: AbortSignal): Promise<AttributeValues> {
  return getJson(`/api/v1/attributes/${encodeURIComponent(key)}/values`, signal);
}

// --- trace analysis (docs/api.md, "Trace analysis"); all GET ------------------------

function linkedQuery(linked: boolean): string {
  return linked ? '?linked=true' : '';
}

export function getCriticalPath(traceId: string, linked: boolean, signal?: AbortSignal): Promise<CriticalPathAnswer> {
  return getJson(`/api/v1/traces/${encodeURIComponent(traceId)}/critical-path${linkedQuery(linked)}`, signal);
}

export function getStatistics(traceId: string, linked: boolean, signal?: AbortSignal): Promise<StatisticsAnswer> {
  return getJson(`/api/v1/traces/${encodeURIComponent(traceId)}/statistics${linkedQuery(linked)}`, signal);
}

export function getPrevious(traceId: string, linked: boolean, signal?: AbortSignal): Promise<PreviousAnswer> {
  return getJson(`/api/v1/traces/${encodeURIComponent(traceId)}/previous${linkedQuery(linked)}`, signal);
}

export function getCompare(a: string, b: string, linked: boolean, signal?: AbortSignal): Promise<CompareAnswer> {
  const p = new URLSearchParams({ a, b });
  if (linked) p.set('linked', 'true');
  return getJson(`/api/v1/compare?${p.toString()}`, signal);
}

/** The service map of the traces a search finds (the `/traces` search parameters). */
export function getTopology(params: URLSearchParams, signal?: AbortSignal): Promise<TopologyAnswer> {
  return getJson(`/api/v1/topology?${params.toString()}`, signal);
}

export function getServiceMap(traceId: string, linked: boolean, signal?: AbortSignal): Promise<ServiceMapAnswer> {
  return getJson(`/api/v1/traces/${encodeURIComponent(traceId)}/service-map${linkedQuery(linked)}`, signal);
}

// --- export and import (docs/api.md, "Export and import") ---------------------------

/** What an export would hold (`GET /export/preview`). */
export function getExportPreview(params: URLSearchParams, signal?: AbortSignal): Promise<ExportSummary> {
  return getJson(`/api/v1/export/preview?${params}`, signal);
}

/** The export itself, as a streamed response (the caller reads the body for progress). */
export async function getExport(params: URLSearchParams, signal?: AbortSignal): Promise<Response> {
  const res = await send(`/api/v1/export?${params}`, { signal });
  if (!res.body) throw new ApiError('the export has no body', res.status);
  return res;
}

export function getImports(signal?: AbortSignal): Promise<Imports> {
  return getJson('/api/v1/imports', signal);
}

export function deleteImport(source: string): Promise<Deleted> {
  return writeJson('DELETE', `/api/v1/imports/${encodeURIComponent(source)}`);
}

/** An upload in flight: `done` settles with the report or an `ApiError`; `abort` stops it. */
export interface Upload {
  done: Promise<ImportReport>;
  abort(): void;
}

/**
 * `POST /imports?name=…` with the file as the body. An XMLHttpRequest, not
 * `fetch`, because only it reports upload progress.
 */
export function importFile(file: File, onProgress: (loaded: number, total: number) => void): Upload {
  const xhr = new XMLHttpRequest();
  const done = new Promise<ImportReport>((resolve, reject) => {
    xhr.open('POST', `/api/v1/imports?${new URLSearchParams({ name: file.name })}`);
    for (const [k, v] of Object.entries(WRITE_HEADERS)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON */
      }
      if (xhr.status === 200 && body) resolve(body as ImportReport);
      else reject(ApiError.of(xhr.status, xhr.statusText, body as Partial<ErrorBody> | null));
    };
    xhr.onerror = () => reject(new ApiError('Loupe is not reachable', 0));
    xhr.onabort = () => reject(new DOMException('the upload was cancelled', 'AbortError'));
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}

// --- alerting (docs/api.md, "Alerts"): answers not generated yet ---------------------

/**
 * A call to the alerting routes (`/api/v1/rules`, `/alerts`, `/channels`, …),
 * with a JSON body, or with `yaml` a YAML one. Their answers are typed by
 * the caller until they are generated like the others.
 */
export function alertsCall<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, yaml = false): Promise<T> {
  return request<T>(path, {
    method,
    headers: { ...WRITE_HEADERS, ...(yaml ? { 'Content-Type': 'application/yaml' } : { 'Content-Type': 'application/json', Accept: 'application/json' }) },
    body: body === undefined ? undefined : yaml ? String(body) : JSON.stringify(body),
  });
}
