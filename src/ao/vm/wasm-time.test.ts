import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatTm } from './wasm-time.ts';

/** struct tm fields for a UTC instant, as gmtime fills them. */
function tm(iso: string) {
  const d = new Date(iso);
  const yday = Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86_400_000);
  return {
    sec: d.getUTCSeconds(),
    min: d.getUTCMinutes(),
    hour: d.getUTCHours(),
    mday: d.getUTCDate(),
    mon: d.getUTCMonth(),
    year: d.getUTCFullYear() - 1900,
    wday: d.getUTCDay(),
    yday,
  };
}

describe('strftime for wasm modules (UTC, C locale)', () => {
  it('formats the C-locale conversions', () => {
    const t = tm('2024-03-05T07:08:09Z');
    assert.equal(formatTm('%Y-%m-%d %H:%M:%S', t), '2024-03-05 07:08:09');
    assert.equal(formatTm('%c', t), 'Tue Mar  5 07:08:09 2024');
    assert.equal(formatTm('%a %A %b %B %j %p %I %e|%y %C %u %w', t), 'Tue Tuesday Mar March 065 AM 07  5|24 20 2 2');
    assert.equal(formatTm('%D %F %T %R %r %z %Z %% %n%t', t), '03/05/24 2024-03-05 07:08:09 07:08 07:08:09 AM +0000 UTC % \n\t');
    assert.equal(formatTm('%Ey %Od %q', t), '24 05 %q');
  });

  it('numbers weeks like ISO 8601 and C', () => {
    assert.equal(formatTm('%G-W%V %g %U %W', tm('2021-01-01T00:00:00Z')), '2020-W53 20 00 00');
    assert.equal(formatTm('%G-W%V %U %W', tm('2024-12-30T00:00:00Z')), '2025-W01 52 53');
    assert.equal(formatTm('%G-W%V', tm('2026-06-15T00:00:00Z')), '2026-W25');
  });
});
