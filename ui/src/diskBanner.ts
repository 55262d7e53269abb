// The low-disk banner, on every page (issue 13): when free space under the
// data directory is below `--min-free-disk`, Loupe deletes its oldest data
// and then refuses telemetry (retryable) until space is freed. The banner
// reads `/health` (its `details.disk`) every few seconds and says why and
// what to do.

import { getHealth, type Health } from './api';
import { h } from './dom';

const MiB = 1024 * 1024;

/** What the banner says for a health document, or null when the disk is fine. */
export function diskBannerText(health: Health): string | null {
  const d = health.details?.disk;
  if (d?.status !== 'DOWN') return null;
  const free = d.free !== undefined ? `${Math.floor(d.free / MiB)} MiB free` : 'little space free';
  const threshold = `${Math.floor(d.threshold / MiB)} MiB`;
  const what = d.refusing ? 'Loupe deleted what it could of its oldest data and is now refusing new telemetry (senders are told to retry later).' : 'Loupe is deleting its oldest data to make room.';
  return (
    `Low disk space: ${free} under ${d.path}, below the ${threshold} threshold (--min-free-disk). ${what} ` +
    'Free disk space on that file system, or lower --max-db-size so Loupe keeps less; it recovers by itself once space is back.'
  );
}

/** Mounts the banner above `main` and keeps it current. */
export function startDiskBanner(before: HTMLElement): void {
  const banner = h('div', { class: 'notice app-banner', testid: 'disk-banner', attrs: { hidden: true, role: 'alert' } });
  before.before(banner);
  const tick = async () => {
    try {
      const text = diskBannerText(await getHealth());
      banner.hidden = text === null;
      banner.textContent = text ?? '';
    } catch {
      /* offline: keep what it said */
    }
  };
  void tick();
  setInterval(tick, 5000);
}
