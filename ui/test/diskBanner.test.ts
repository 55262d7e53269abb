import { describe, expect, it } from 'vitest';
import type { Health } from '../src/api';
import { diskBannerText } from '../src/diskBanner';

function health(disk: Partial<Health['details']['disk']>): Health {
  return {
    status: disk.status === 'DOWN' ? 'DOWN' : 'UP',
    details: {
      disk: { status: 'UP', path: '/data', threshold: 100 * 1024 * 1024, refusing: false, ...disk },
    },
  } as Health;
}

describe('low-disk banner', () => {
  it('is hidden while the disk is fine or unknown', () => {
    expect(diskBannerText(health({ status: 'UP', free: 10 * 1024 ** 3 }))).toBeNull();
    expect(diskBannerText(health({ status: 'UNKNOWN' }))).toBeNull();
  });
  it('says why and what to do while refusing', () => {
    const t = diskBannerText(health({ status: 'DOWN', free: 50 * 1024 * 1024, refusing: true }));
    expect(t).toContain('Low disk space: 50 MiB free under /data, below the 100 MiB threshold');
    expect(t).toContain('refusing new telemetry');
    expect(t).toContain('Free disk space');
    expect(t).toContain('--max-db-size');
  });
  it('says the oldest data is going while it frees space', () => {
    expect(diskBannerText(health({ status: 'DOWN', free: 99 * 1024 * 1024 }))).toContain('deleting its oldest data');
  });
});
