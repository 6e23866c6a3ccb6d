import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { must } from '../fixtures/run.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { eventually, jsonLines, passwdShadowText } from '../fixtures/user-files.js';

// Identical logins that arrive while one is being checked wait for that check (-c only). The hash
// is yescrypt at cost 7 (64 MiB, tens of ms), so the real testsaslauthd processes started together
// overlap with the first check.
const U = 'sat_coalesce';
const PW = 'burst pw';
let tmp: string;
let d: RunningDaemon;

const lines = (): Record<string, unknown>[] => jsonLines(d.output()).filter((r) => r['user'] === U && 'outcome' in r);

beforeAll(async () => {
  tmp = mkdtempSync('/tmp/sat_coalesce-');
  const hash = (await must('mkpasswd', ['-m', 'yescrypt', '-R', '7', '--stdin'], { input: PW })).trim();
  const text = passwdShadowText([{ name: U, hash }]);
  writeFileSync(join(tmp, 'passwd'), text.passwd);
  writeFileSync(join(tmp, 'shadow'), text.shadow);
  d = await startOurs(['-a', 'shadow', '-c', '-n', '5', '--passwd-file', join(tmp, 'passwd'), '--shadow-file', join(tmp, 'shadow'), '--fail-delay', '0', '--log-format', 'json']);
});

afterAll(async () => {
  await d?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('-c: a burst of identical logins costs one check', () => {
  it('eight testsaslauthd at once with the right password: all OK, one backend check, the rest joined it or hit the cache', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => verdict(d.socket, U, PW)));
    expect(answers).toEqual(Array(8).fill('OK'));
    const mine = lines();
    expect(mine).toHaveLength(8);
    expect(mine.every((r) => r['outcome'] === 'ok')).toBe(true);
    const checked = mine.filter((r) => r['cached'] === undefined && r['coalesced'] === undefined);
    expect(checked).toHaveLength(1);
    // Proof that they overlapped (else every later one would be a plain cache hit).
    expect(mine.filter((r) => r['coalesced'] === true).length).toBeGreaterThan(0);
  });

  it('a wrong password sent in the same burst gets its own NO', async () => {
    const flushed = (): number => jsonLines(d.output()).filter((r) => String(r['msg']).startsWith('credential cache flushed')).length;
    d.proc.kill('SIGUSR1'); // flush, so that the right password is checked again
    await eventually(() => flushed() === 1, 'flush log line');
    const before = lines().length;
    const passwords = [PW, 'wrong pw', PW, PW, 'wrong pw', PW];
    const answers = await Promise.all(passwords.map((p) => verdict(d.socket, U, p)));
    expect(answers).toEqual(passwords.map((p) => (p === PW ? 'OK' : 'NO')));
    const mine = lines().slice(before);
    expect(mine.filter((r) => r['outcome'] === 'ok')).toHaveLength(4);
    expect(mine.filter((r) => r['outcome'] === 'rejected' && r['code'] === 'bad-password')).toHaveLength(2);
    expect(mine.filter((r) => r['outcome'] === 'ok' && r['cached'] === undefined && r['coalesced'] === undefined)).toHaveLength(1);
  });
});
