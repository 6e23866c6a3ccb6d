import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { jsonLines, type UserFiles, userFiles } from '../fixtures/user-files.js';

// Two independent shadow backends: "shadow" reads set A, "shadow:b" reads set B.
const ALICE = 'sat_cache_alice'; // in A (pw-a) and in B (pw-b)
const BOB = 'sat_cache_bob'; // only in B
let tmp: string;
let a: UserFiles;
let b: UserFiles;
const running: RunningDaemon[] = [];

const baseArgs = (): string[] => [
  '--passwd-file', a.passwd,
  '--shadow-file', a.shadow,
  '--link-option', `shadow:b.passwd-file=${b.passwd}`,
  '--link-option', `shadow:b.shadow-file=${b.shadow}`,
  '--fail-delay', '0',
  '--log-format', 'json',
];

async function start(extra: string[]): Promise<RunningDaemon> {
  const d = await startOurs([...baseArgs(), ...extra]);
  running.push(d);
  return d;
}

const lastFor = (d: RunningDaemon, user: string): Record<string, unknown> | undefined =>
  jsonLines(d.output()).filter((r) => r['user'] === user && 'outcome' in r).at(-1);

beforeAll(async () => {
  tmp = mkdtempSync('/tmp/sat_cache_chain-');
  a = await userFiles(join(tmp, 'a'), { [ALICE]: 'pw-a' });
  b = await userFiles(join(tmp, 'b'), { [ALICE]: 'pw-b', [BOB]: 'pw-bob' });
});

afterAll(async () => {
  await Promise.all(running.map((d) => d.stop()));
  rmSync(tmp, { recursive: true, force: true });
});

describe('-a shadow,shadow:b (real daemon, testsaslauthd)', () => {
  let d: RunningDaemon;
  beforeAll(async () => {
    d = await start(['-a', 'shadow,shadow:b']);
  });

  it('the first backend answers users it knows', async () => {
    expect(await verdict(d.socket, ALICE, 'pw-a')).toBe('OK');
    expect(lastFor(d, ALICE)).toMatchObject({ outcome: 'ok', mech: 'shadow,shadow:b', via: 'shadow' });
  });

  it('user unknown in the first: the second answers', async () => {
    expect(await verdict(d.socket, BOB, 'pw-bob')).toBe('OK');
    expect(lastFor(d, BOB)).toMatchObject({ outcome: 'ok', via: 'shadow:b' });
  });

  it('wrong password in the first stops the chain: no second try', async () => {
    expect(await verdict(d.socket, ALICE, 'pw-b')).toBe('NO');
    expect(lastFor(d, ALICE)).toMatchObject({ outcome: 'rejected', code: 'bad-password', via: 'shadow', reason: 'shadow: password mismatch' });
  });

  it('first backend unavailable: the second answers', async () => {
    renameSync(a.shadow, `${a.shadow}.away`);
    try {
      expect(await verdict(d.socket, ALICE, 'pw-b')).toBe('OK');
      expect(lastFor(d, ALICE)).toMatchObject({ outcome: 'ok', via: 'shadow:b' });
      // Unknown in the second while the first is down: an outage, not "unknown user".
      expect(await verdict(d.socket, 'sat_cache_nobody', 'x')).toBe('NO');
      expect(lastFor(d, 'sat_cache_nobody')).toMatchObject({ outcome: 'unavailable', code: 'backend-error' });
    } finally {
      renameSync(`${a.shadow}.away`, a.shadow);
    }
    expect(await verdict(d.socket, ALICE, 'pw-b')).toBe('NO');
  });
});

describe('chain and route options (real daemon, testsaslauthd)', () => {
  it('--chain-continue-on shadow=rejected gives a wrong password in the first a second try', async () => {
    const d = await start(['-a', 'shadow,shadow:b', '--chain-continue-on', 'shadow=rejected']);
    expect(await verdict(d.socket, ALICE, 'pw-b')).toBe('OK');
    expect(lastFor(d, ALICE)).toMatchObject({ via: 'shadow:b' });
    expect(await verdict(d.socket, BOB, 'pw-bob')).toBe('OK');
  });

  it('--chain-continue-on none stops on an unknown user', async () => {
    const d = await start(['-a', 'shadow,shadow:b', '--chain-continue-on', 'none']);
    expect(await verdict(d.socket, BOB, 'pw-bob')).toBe('NO');
    expect(lastFor(d, BOB)).toMatchObject({ outcome: 'rejected', code: 'unknown-user', via: 'shadow' });
  });

  it('--route sends a service and a realm to other backends, the rest to -a', async () => {
    const d = await start(['-a', 'shadow', '--route', 'smtp=shadow:b', '--route', 'realm:example.org=shadow:b,shadow', '-c']);
    expect(await verdict(d.socket, ALICE, 'pw-b', { service: 'smtp' })).toBe('OK');
    expect(lastFor(d, ALICE)).toMatchObject({ route: 'service:smtp', via: 'shadow:b' });
    expect(await verdict(d.socket, ALICE, 'pw-b', { service: 'imap' })).toBe('NO');
    expect(await verdict(d.socket, ALICE, 'pw-a', { service: 'imap' })).toBe('OK');
    expect(lastFor(d, ALICE)?.['route']).toBeUndefined();
    expect(await verdict(d.socket, BOB, 'pw-bob', { realm: 'example.org' })).toBe('OK');
    expect(lastFor(d, BOB)).toMatchObject({ route: 'realm:example.org', via: 'shadow:b' });
    expect(await verdict(d.socket, BOB, 'pw-bob', { realm: 'example.org' })).toBe('OK');
    expect(lastFor(d, BOB)).toMatchObject({ route: 'realm:example.org', cached: true });
  });

  it('--check and -v print the effective chains and routes', async () => {
    const args = [DAEMON_BIN, '-a', 'shadow,shadow:b', '--route', 'smtp=shadow:b', ...baseArgs()];
    const check = await run(process.execPath, [...args, '--check', '-m', tmp]);
    expect(check.code).toBe(0);
    // The wrapper tree describes itself top down (issue 12 item 3): chains and routes, their backends, then what wraps them.
    const composition = check.stdout.slice(check.stdout.indexOf('# backends, chains and wrappers\n')).split('\n').slice(1);
    expect(composition.slice(0, 4)).toEqual([
      'chain (-a): shadow [next on: unknown, unavailable] -> shadow:b',
      'route service:smtp: shadow:b',
      `[shadow] shadow: passwd=${a.passwd} shadow=${a.shadow}`,
      `[shadow:b] shadow: passwd=${b.passwd} shadow=${b.shadow}`,
    ]);
    expect(check.stdout).toContain(`\nbackend shadow:b: passwd-file=${b.passwd} shadow-file=${b.shadow}\n`);
    expect(check.stdout).toContain(`[shadow:b] shadow: passwd=${b.passwd} shadow=${b.shadow}\n`);
    expect(check.stdout).toContain(`[shadow] shadow: passwd=${a.passwd} shadow=${a.shadow}\n`);
    const v = await run(process.execPath, [...args, '-v']);
    expect(v.code).toBe(0);
    expect(v.stdout.split('\n')[0]).toBe('chain (-a): shadow [next on: unknown, unavailable] -> shadow:b');
  });

  it('a broken second instance fails start-up naming it', async () => {
    const r = await run(process.execPath, [DAEMON_BIN, '-a', 'shadow,shadow:c', '--link-option', 'shadow:c.shadow-file=/nonexistent/sat_cache', '--check', '-m', tmp]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('shadow:c: ');
  });
});
