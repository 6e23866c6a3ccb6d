import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { eventually, jsonLines, type UserFiles, userFiles } from '../fixtures/user-files.js';

const U = 'sat_cache_carl';
let tmp: string;
let files: UserFiles;
let d: RunningDaemon;

/** The per-request log records for U, in order. */
const requests = (): Record<string, unknown>[] => jsonLines(d.output()).filter((r) => r['user'] === U && 'outcome' in r);
const last = (): Record<string, unknown> | undefined => requests().at(-1);

beforeAll(async () => {
  tmp = mkdtempSync('/tmp/sat_cache_cc-');
  files = await userFiles(join(tmp, 'users'), { [U]: 'first-pw' });
  d = await startOurs(['-a', 'shadow', '-c', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--fail-delay', '0', '--log-format', 'json']);
});

afterAll(async () => {
  await d?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('credential cache (-c), real daemon and testsaslauthd', () => {
  it('answers the second success from the cache and logs cached: true', async () => {
    expect(await verdict(d.socket, U, 'first-pw')).toBe('OK');
    expect(last()).toMatchObject({ outcome: 'ok', mech: 'shadow' });
    expect(last()?.['cached']).toBeUndefined();
    expect(await verdict(d.socket, U, 'first-pw')).toBe('OK');
    expect(last()).toMatchObject({ outcome: 'ok', cached: true, msg: expect.stringMatching(/^auth success: \[user=sat_cache_carl\]/) });
  });

  it('sends a wrong password to the backend', async () => {
    expect(await verdict(d.socket, U, 'wrong-pw')).toBe('NO');
    expect(last()).toMatchObject({ outcome: 'rejected', code: 'bad-password' });
    expect(last()?.['cached']).toBeUndefined();
  });

  it('refuses the old password once the new one has succeeded', async () => {
    await files.write({ [U]: 'second-pw' });
    // Not yet used: the old password still answers from the cache, as in saslauthd.
    expect(await verdict(d.socket, U, 'first-pw')).toBe('OK');
    expect(last()).toMatchObject({ cached: true });
    expect(await verdict(d.socket, U, 'second-pw')).toBe('OK');
    expect(last()?.['cached']).toBeUndefined();
    expect(await verdict(d.socket, U, 'first-pw')).toBe('NO');
    expect(await verdict(d.socket, U, 'second-pw')).toBe('OK');
    expect(last()).toMatchObject({ cached: true });
  });

  it('is keyed by service and realm', async () => {
    expect(await verdict(d.socket, U, 'second-pw', { service: 'smtp' })).toBe('OK');
    expect(last()?.['cached']).toBeUndefined();
    expect(await verdict(d.socket, U, 'second-pw', { service: 'smtp', realm: 'example.org' })).toBe('OK');
    expect(last()?.['cached']).toBeUndefined();
  });

  it('SIGUSR1 flushes it', async () => {
    expect(await verdict(d.socket, U, 'second-pw')).toBe('OK');
    expect(last()).toMatchObject({ cached: true });
    d.proc.kill('SIGUSR1');
    await eventually(() => jsonLines(d.output()).some((r) => String(r['msg']).startsWith('credential cache flushed')), 'flush log line');
    expect(await verdict(d.socket, U, 'second-pw')).toBe('OK');
    expect(last()?.['cached']).toBeUndefined();
    expect(d.proc.exitCode).toBeNull();
  });

  it('a reload (SIGHUP) starts with an empty cache', async () => {
    expect(await verdict(d.socket, U, 'second-pw')).toBe('OK');
    expect(await verdict(d.socket, U, 'second-pw')).toBe('OK');
    expect(last()).toMatchObject({ cached: true });
    const reloads = () => jsonLines(d.output()).filter((r) => r['msg'] === 'configuration reloaded').length;
    const before = reloads();
    d.proc.kill('SIGHUP');
    await eventually(() => reloads() > before, 'reload log line');
    expect(await verdict(d.socket, U, 'second-pw')).toBe('OK');
    expect(last()?.['cached']).toBeUndefined();
    expect(await verdict(d.socket, U, 'second-pw')).toBe('OK');
    expect(last()).toMatchObject({ cached: true });
  });

  it('saslauthd-ts --flush-cache -m DIR signals the daemon on DIR/mux', async () => {
    expect(await verdict(d.socket, U, 'second-pw')).toBe('OK');
    expect(last()).toMatchObject({ cached: true });
    const flushes = () => jsonLines(d.output()).filter((r) => String(r['msg']).startsWith('credential cache flushed')).length;
    const before = flushes();
    const r = await run(process.execPath, [DAEMON_BIN, '--flush-cache', '-m', d.dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`sent SIGUSR1 (flush credential cache) to saslauthd-ts pid ${d.proc.pid}\n`);
    await eventually(() => flushes() > before, 'second flush log line');
    expect(await verdict(d.socket, U, 'second-pw')).toBe('OK');
    expect(last()?.['cached']).toBeUndefined();
  });

  it('--flush-cache fails when nothing listens there', async () => {
    const r = await run(process.execPath, [DAEMON_BIN, '--flush-cache', '-m', tmp]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`saslauthd-ts: no saslauthd-ts is listening on ${tmp}/mux\n`);
  });
});

describe('credential cache expiry (-t)', () => {
  it('stops answering from an entry once it is -t seconds old', async () => {
    const t = await startOurs(['-a', 'shadow', '-c', '-t', '1', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--fail-delay', '0', '--log-format', 'json']);
    try {
      const mine = () => jsonLines(t.output()).filter((r) => r['user'] === U && 'outcome' in r);
      expect(await verdict(t.socket, U, 'second-pw')).toBe('OK');
      await new Promise((r) => setTimeout(r, 1100));
      expect(await verdict(t.socket, U, 'second-pw')).toBe('OK');
      expect(mine().map((r) => r['cached'] ?? false)).toEqual([false, false]);
    } finally {
      await t.stop();
    }
  });
});

describe('--cache-stale-on-outage', () => {
  it('answers OK from an expired entry while the backend is unavailable, logged as such', async () => {
    const t = await startOurs([
      '-a', 'shadow', '-c', '-t', '1', '--cache-stale-on-outage', '600',
      '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--fail-delay', '0', '--log-format', 'json',
    ]);
    try {
      const mine = () => jsonLines(t.output()).filter((r) => r['user'] === U && 'outcome' in r);
      expect(await verdict(t.socket, U, 'second-pw')).toBe('OK');
      await new Promise((r) => setTimeout(r, 1100));
      renameSync(files.shadow, `${files.shadow}.away`);
      try {
        expect(await verdict(t.socket, U, 'second-pw')).toBe('OK');
        expect(mine().at(-1)).toMatchObject({ outcome: 'ok', cached: true, stale: true });
        expect(jsonLines(t.output()).some((r) => r['level'] === 'warn' && String(r['msg']).includes('answered OK from a cached success'))).toBe(true);
        expect(await verdict(t.socket, U, 'first-pw')).toBe('NO');
        expect(mine().at(-1)).toMatchObject({ outcome: 'unavailable' });
      } finally {
        renameSync(`${files.shadow}.away`, files.shadow);
      }
      // With the backend back, the expired entry is not used: the backend answers.
      expect(await verdict(t.socket, U, 'second-pw')).toBe('OK');
      expect(mine().at(-1)?.['cached']).toBeUndefined();
    } finally {
      await t.stop();
    }
  });
});
