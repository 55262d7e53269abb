// The export dialog (selection, logs/metrics, format, redaction preview,
// progress and cancel) and import (drop files on the page or pick them,
// progress and cancel, what was skipped), plus the list of imports with
// "show" and "delete". Logic lives in ../transfer.ts.

import { deleteImport, getExport, getExportPreview, getImports, importFile, type Upload } from '../api';
import { clear, h } from '../dom';
import { button, checkbox as check, dialog as makeDialog, input, select, table as makeTable } from '../components';
import { formatTimestamp } from '../format';
import {
  describeSkipped,
  exportFileName,
  exportParams,
  formatBytes,
  importSearchUrl,
  importSummary,
  redactionRows,
  findingList,
  selectionFromLocation,
  type ExportOptions,
  type ExportSelection,
} from '../transfer';

/** Adds the "Export / Import" button to the header and the page-wide drop zone. */
export function mountTransfer(header: HTMLElement): void {
  const { dialog, body } = makeDialog('Export and import', { testid: 'transfer-dialog', extra: 'transfer-dialog' });
  document.body.appendChild(dialog);
  header.appendChild(button('Export / Import', { small: true, extra: 'transfer-open', testid: 'transfer-open', onClick: () => open() }));

  function open(files?: File[]): void {
    clear(body);
    body.append(exportSection(), importSection(files));
    if (!dialog.open) dialog.showModal();
  }

  // Drop files anywhere on the page to import them.
  window.addEventListener('dragover', (e) => {
    if (e.dataTransfer?.types.includes('Files')) {
      e.preventDefault();
      document.body.classList.add('dropping');
    }
  });
  window.addEventListener('dragleave', (e) => {
    if (!e.relatedTarget) document.body.classList.remove('dropping');
  });
  window.addEventListener('drop', (e) => {
    document.body.classList.remove('dropping');
    const files = Array.from(e.dataTransfer?.files ?? []);
    if (files.length) {
      e.preventDefault();
      open(files);
    }
  });
}

function checkbox(label: string, checked: boolean, testid: string): [HTMLElement, HTMLInputElement] {
  return check(label, checked, { testid, extra: 'transfer-check' });
}

function exportSection(): HTMLElement {
  const sel0 = selectionFromLocation(location.pathname, location.search);
  const kinds: Array<[ExportSelection['kind'], string]> = [
    ['trace', 'This trace'],
    ['search', 'This search result'],
    ['window', 'A time range'],
  ];
  const kind = select(
    kinds.filter(([k]) => k !== 'trace' || sel0.kind === 'trace'),
    { testid: 'export-kind', label: 'What to export', value: sel0.kind },
  );
  const [linkedL, linked] = checkbox('with linked traces (stitched view)', sel0.kind === 'trace' && sel0.linked, 'export-linked');
  const start = input({ value: 'now-1h', placeholder: 'start: now-1h or RFC 3339', label: 'Start' });
  const end = input({ placeholder: 'end (empty: now)', label: 'End' });
  const services = input({ placeholder: 'services, comma-separated (empty: all)', label: 'Services' });
  const windowBox = h('div', { class: 'transfer-window' }, start, end, services);
  const [logsL, logs] = checkbox('include logs', true, 'export-logs');
  const [metricsL, metrics] = checkbox('include metrics of the time window', false, 'export-metrics');
  const format = select(
    [
      ['jsonl', 'OTLP JSON Lines (.jsonl)'],
      ['html', 'HTML report (.html, opens offline)'],
    ],
    { testid: 'export-format', label: 'Format' },
  );
  const [redactL, redact] = checkbox('mask secrets (password, token, api_key, cookie… values; Bearer, JWTs, AWS keys, URL passwords, vendor tokens)', true, 'export-redact');
  const patterns = input({ placeholder: 'more patterns to mask, comma-separated', label: 'More patterns to mask' });
  const preview = h('div', { class: 'transfer-preview', testid: 'export-preview' });
  const status = h('div', { class: 'transfer-status', testid: 'export-status' });
  const go = button('Preview', { variant: 'primary', testid: 'export-go' });
  const save = button('Export', { testid: 'export-save', disabled: true });
  const cancel = button('Cancel', { testid: 'export-cancel', hidden: true });
  let controller: AbortController | null = null;

  const selection = (): ExportSelection => {
    const k = kind.value as ExportSelection['kind'];
    if (k === 'trace' && sel0.kind === 'trace') return { kind: 'trace', traceId: sel0.traceId, linked: linked.checked };
    if (k === 'search') return sel0.kind === 'search' ? sel0 : { kind: 'search', params: new URLSearchParams() };
    return { kind: 'window', start: start.value, end: end.value, services: services.value.split(',') };
  };
  const options = (): ExportOptions => ({ logs: logs.checked, metrics: metrics.checked, format: format.value as 'jsonl' | 'html', redact: redact.checked, patterns: patterns.value });
  const sync = (): void => {
    linkedL.hidden = kind.value !== 'trace';
    windowBox.hidden = kind.value !== 'window';
    patterns.disabled = !redact.checked;
    save.disabled = true;
    clear(preview);
  };
  for (const el of [kind, linked, start, end, services, logs, metrics, format, redact, patterns]) el.addEventListener('change', sync);
  sync();

  go.addEventListener('click', async () => {
    clear(preview);
    status.textContent = 'Counting…';
    try {
      const s = await getExportPreview(exportParams(selection(), options()));
      status.textContent = '';
      preview.append(h('p', { text: `${s.traces} traces, ${s.spans} spans, ${s.logRecords} log records, ${s.dataPoints} data points${s.truncated ? ' (cut at the export limit)' : ''}.` }));
      if (!redact.checked) preview.append(h('p', { class: 'warn', text: 'Secrets are not masked: the file holds the data as stored.' }));
      else if (s.redaction.total === 0) preview.append(h('p', { text: 'Nothing matches the redaction patterns.' }));
      else {
        preview.append(h('p', { text: `${s.redaction.total} values will be masked:` }));
        const { table, body: rows } = makeTable(['Key', 'Masked'], { extra: 'compact transfer-redactions' });
        for (const [key, n] of redactionRows(s.redaction)) rows.append(h('tr', null, h('td', { class: 'mono', text: key }), h('td', { text: String(n) })));
        preview.append(table);
        // What each masked secret looked like, as text (telemetry is never HTML).
        const { items, more } = findingList(s.redaction);
        if (items.length > 0) {
          const list = h('ul', { class: 'transfer-findings', testid: 'export-findings' });
          for (const f of items) {
            list.append(
              h(
                'li',
                null,
                h('div', { class: 'mono', text: `${f.field} (${f.rule})` }),
                h('div', { class: 'mono', text: `before: ${f.before}` }),
                h('div', { class: 'mono', text: `after: ${f.after}` }),
              ),
            );
          }
          if (more) list.append(h('li', { text: more }));
          preview.append(list);
        }
      }
      save.disabled = false;
    } catch (e) {
      status.textContent = `Cannot export: ${(e as Error).message}`;
    }
  });

  save.addEventListener('click', async () => {
    const sel = selection();
    const opts = options();
    controller = new AbortController();
    cancel.hidden = false;
    save.disabled = true;
    status.textContent = 'Exporting…';
    try {
      const res = await getExport(exportParams(sel, opts), controller.signal);
      const reader = res.body!.getReader();
      const chunks: Uint8Array[] = [];
      let got = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        got += value.length;
        status.textContent = `Exporting… ${formatBytes(got)}`;
      }
      const blob = new Blob(chunks as BlobPart[], { type: opts.format === 'html' ? 'text/html' : 'application/x-ndjson' });
      const a = h('a', { attrs: { href: URL.createObjectURL(blob), download: exportFileName(opts, sel) } });
      document.body.appendChild(a);
      a.click();
      a.remove();
      status.textContent = `Exported ${formatBytes(got)}.`;
    } catch (e) {
      status.textContent = (e as Error).name === 'AbortError' ? 'Export cancelled.' : `Export failed: ${(e as Error).message}`;
    } finally {
      controller = null;
      cancel.hidden = true;
      save.disabled = false;
    }
  });
  cancel.addEventListener('click', () => controller?.abort());

  return h(
    'section',
    { class: 'transfer-section' },
    h('h3', { text: 'Export' }),
    h('div', { class: 'transfer-row' }, kind, linkedL),
    windowBox,
    h('div', { class: 'transfer-row' }, logsL, metricsL),
    h('div', { class: 'transfer-row' }, format),
    h('div', { class: 'transfer-row' }, redactL),
    patterns,
    h('div', { class: 'transfer-row' }, go, save, cancel),
    status,
    preview,
  );
}

function importSection(initial?: File[]): HTMLElement {
  const picker = h('input', { class: 'file', testid: 'import-file', attrs: { type: 'file', multiple: true, accept: '.json,.jsonl,.ndjson,.pb,.binpb,.bin,.gz,.html,.htm' } });
  const results = h('div', { class: 'transfer-results', testid: 'import-results' });
  const list = h('div', { class: 'transfer-imports', testid: 'imports-list' });
  const zone = h('div', { class: 'transfer-drop' }, 'Drop files anywhere on the page, or ', picker);
  let upload: Upload | null = null;

  const importOne = async (file: File): Promise<void> => {
    const line = h('div', { class: 'transfer-result' }, `${file.name}: sending…`);
    const stop = button('Cancel', { small: true, onClick: () => upload?.abort() });
    line.append(' ', stop);
    results.append(line);
    const done = (text: string, detail: string[] = [], cls = ''): void => {
      clear(line);
      line.className = `transfer-result ${cls}`;
      line.append(h('div', { text }));
      for (const d of detail) line.append(h('div', { class: 'mono', text: d }));
      upload = null;
    };
    upload = importFile(file, (loaded, total) => {
      line.firstChild!.textContent = `${file.name}: ${Math.round((100 * loaded) / total)}% sent…`;
    });
    try {
      const body = await upload.done;
      done(importSummary(body), body.skipped.map(describeSkipped), body.skippedCount ? 'warn' : 'ok');
      void refresh();
    } catch (e) {
      if ((e as Error).name === 'AbortError') done(`${file.name}: cancelled (what was stored stays; delete it below)`, [], 'warn');
      else done(`${file.name}: ${(e as Error).message}`, [], 'error');
    }
  };

  const importAll = async (files: File[]): Promise<void> => {
    for (const f of files) await importOne(f);
  };
  picker.addEventListener('change', () => void importAll(Array.from(picker.files ?? [])));

  async function refresh(): Promise<void> {
    try {
      const { imports } = await getImports();
      clear(list);
      if (!imports.length) {
        list.append(h('p', { class: 'muted', text: 'Nothing imported yet.' }));
        return;
      }
      const { table, body: rows } = makeTable([], { extra: 'compact' });
      for (const i of imports) {
        const del = button('Delete', {
          small: true,
          variant: 'danger',
          onClick: async () => {
            if (!confirm(`Delete everything imported from ${i.source}?`)) return;
            await deleteImport(i.source).catch((e: Error) => alert(e.message));
            void refresh();
          },
        });
        rows.append(
          h(
            'tr',
            null,
            h('td', { class: 'mono', text: i.source }),
            h('td', { text: `${i.spans} spans, ${i.logRecords} logs, ${i.dataPoints} points` }),
            h('td', {
              class: 'muted',
              testid: 'import-expires',
              attrs: {
                title: 'Kept for the age limit (--max-age) from when it was imported, whatever its own timestamps; the size limit may delete it earlier.',
              },
              text: `kept until ${formatTimestamp(i.expiresUnixNano).slice(0, 16)}`,
            }),
            h('td', null, h('a', { attrs: { href: importSearchUrl(i.source) }, text: 'Show traces' })),
            h('td', null, del),
          ),
        );
      }
      list.append(table);
    } catch (e) {
      clear(list);
      list.append(h('p', { class: 'error', text: `Cannot list imports: ${(e as Error).message}` }));
    }
  }
  void refresh();
  if (initial?.length) void importAll(initial);

  return h(
    'section',
    { class: 'transfer-section' },
    h('h3', { text: 'Import' }),
    h('p', { class: 'muted', text: 'OTLP JSON, JSON Lines, JSON arrays of requests, OTLP protobuf (also .gz) and Loupe HTML reports. Imported data is marked with its file name.' }),
    zone,
    results,
    h('h3', { text: 'Imports' }),
    list,
  );
}
