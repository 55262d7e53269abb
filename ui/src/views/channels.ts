// The Channels part of the Alerts page: the list with "Edit", "Send test"
// (showing how the delivery went, not just "queued") and "Delete", and one
// form that adds a channel or saves the one being edited. The server
// checks the webhook target when a channel is saved; a refusal shows its
// reason under the form. Rendering only: the result texts are `rules.ts`'s.

import { h } from '../dom';
import type { ChannelView, TestResult } from '../generated/api';
import { channelBody, type ChannelDraft, testResultText } from '../rules';

type Call = <T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown) => Promise<T>;

/** What outlives the page's periodic redraw: the channel being edited and the last test results. */
export interface ChannelsState {
  editing: number | null;
  /** What is typed in the form, so a redraw keeps it. */
  draft: ChannelDraft | null;
  results: Map<number, { text: string; ok: boolean }>;
  error: string;
}

export function channelsState(): ChannelsState {
  return { editing: null, draft: null, results: new Map(), error: '' };
}

export function renderChannels(page: HTMLElement, channels: ChannelView[], st: ChannelsState, call: Call, refresh: () => void): void {
  page.appendChild(h('h2', { text: 'Channels' }));
  const editing = channels.find((c) => c.id === st.editing) ?? null;
  if (!editing) st.editing = null;
  const table = h('table', { class: 'table compact rules-table', testid: 'channels-table' });
  for (const c of channels) {
    const result = st.results.get(c.id);
    const resultCell = h('td', { class: result ? (result.ok ? 'result-delivered' : 'result-failed') : 'muted', testid: 'channel-test-result', text: result?.text ?? '' });
    const test = async () => {
      resultCell.className = 'muted';
      resultCell.textContent = 'sending…';
      try {
        const r = await call<TestResult>('POST', `/api/v1/channels/${c.id}/test`, {});
        st.results.set(c.id, { text: testResultText(r), ok: r.result === 'delivered' });
      } catch (e) {
        st.results.set(c.id, { text: (e as Error).message, ok: false });
      }
      refresh();
    };
    table.appendChild(
      h(
        'tr',
        { data: { channel: c.name } },
        h('td', { text: c.name }),
        h('td', { text: c.kind }),
        h('td', { class: 'mono', text: c.url }),
        h('td', { text: c.allowPrivate ? 'private targets allowed' : '' }),
        h('td', { class: 'mono muted', text: c.template ? c.template : 'default text' }),
        h(
          'td',
          null,
          h('button', {
            class: 'link-btn',
            testid: 'edit-channel',
            text: 'Edit',
            on: {
              click: () => {
                st.editing = c.id;
                st.draft = null;
                st.error = '';
                refresh();
              },
            },
          }),
          ' ',
          h('button', { class: 'link-btn', testid: 'test-channel', text: 'Send test', on: { click: () => void test() } }),
          ' ',
          h('button', {
            class: 'link-btn',
            text: 'Delete',
            on: {
              click: async () => {
                if (!confirm(`Delete the channel ${c.name}?`)) return;
                await call('DELETE', `/api/v1/channels/${c.id}`);
                refresh();
              },
            },
          }),
        ),
        resultCell,
      ),
    );
  }
  if (channels.length) page.appendChild(table);
  page.appendChild(channelForm(editing, st, call, refresh));
}

/** The add/edit form; editing, an empty URL keeps the stored one (the server never answers it). */
function channelForm(editing: ChannelView | null, st: ChannelsState, call: Call, refresh: () => void): HTMLElement {
  const d: ChannelDraft = st.draft ?? {
    name: editing?.name ?? '',
    kind: (editing?.kind as ChannelDraft['kind']) ?? 'slack',
    url: '',
    allowPrivate: editing?.allowPrivate ?? false,
    template: editing?.template ?? '',
  };
  const name = h('input', { class: 'input', testid: 'channel-name', attrs: { placeholder: 'name (rules notify it by name)', value: d.name } });
  const kind = h(
    'select',
    { class: 'select', testid: 'channel-kind' },
    h('option', { attrs: { value: 'slack' }, text: 'Slack' }),
    h('option', { attrs: { value: 'webhook' }, text: 'Webhook (JSON)' }),
    h('option', { attrs: { value: 'desktop' }, text: 'Desktop' }),
  );
  kind.value = d.kind;
  const url = h('input', {
    class: 'input',
    testid: 'channel-url',
    attrs: {
      placeholder: editing ? `${editing.url || 'no URL'} (leave empty to keep)` : 'https://hooks.slack.com/services/…',
      type: 'password',
      autocomplete: 'off',
      value: d.url,
    },
  });
  const priv = h('input', { class: 'checkbox', testid: 'channel-private', attrs: { type: 'checkbox', checked: d.allowPrivate } });
  const tpl = h('input', { class: 'input', testid: 'channel-template', attrs: { placeholder: 'template (empty: the default text), e.g. {{rule}}: {{summary}} {{trace_link}}', value: d.template } });
  const err = h('span', { class: 'form-error', testid: 'channel-error', text: st.error });
  const draft = (): ChannelDraft => ({ name: name.value, kind: kind.value as ChannelDraft['kind'], url: url.value, allowPrivate: priv.checked, template: tpl.value });
  return h(
    'form',
    {
      class: 'channel-form',
      testid: 'channel-form',
      on: {
        input: () => {
          st.draft = draft();
        },
        change: () => {
          st.draft = draft();
        },
        submit: async (ev) => {
          ev.preventDefault();
          try {
            if (editing) await call('PUT', `/api/v1/channels/${editing.id}`, channelBody(draft()));
            else await call('POST', '/api/v1/channels', channelBody(draft()));
            st.editing = null;
            st.draft = null;
            st.error = '';
          } catch (e) {
            // Refused (say, a loopback URL without "allow private"): keep
            // what was typed and say why.
            st.error = (e as Error).message;
            err.textContent = st.error;
            return;
          }
          refresh();
        },
      },
    },
    editing ? h('strong', { text: `Edit ${editing.name}:` }) : null,
    name,
    kind,
    url,
    h('label', null, priv, ' allow private/loopback target'),
    tpl,
    h('button', { class: 'btn', testid: 'save-channel', attrs: { type: 'submit' }, text: editing ? 'Save channel' : 'Add channel' }),
    editing
      ? h('button', {
          class: 'link-btn',
          attrs: { type: 'button' },
          text: 'Cancel',
          on: {
            click: () => {
              st.editing = null;
              st.draft = null;
              st.error = '';
              refresh();
            },
          },
        })
      : null,
    err,
  );
}
