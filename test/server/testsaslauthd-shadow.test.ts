import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/client/saslauthd-client.js';
import { type RunningDaemon, startOurs, startReal } from '../fixtures/daemon.js';
import { type ShadowFixture, createShadowFixture, removeShadowFixture } from '../fixtures/shadow-users.js';
import { testsaslauthd, verdict } from '../fixtures/testsaslauthd.js';

let fx: ShadowFixture;
let ours: RunningDaemon;
let compat: RunningDaemon;
let real: RunningDaemon;

beforeAll(async () => {
  fx = await createShadowFixture('sh');
  [ours, compat, real] = await Promise.all([
    startOurs(['-a', 'shadow', '-n', '4']),
    startOurs(['-a', 'shadow', '--compat-replies', '-n', '2']),
    startReal(['-a', 'shadow', '-n', '4']),
  ]);
});

afterAll(async () => {
  await Promise.all([ours?.stop(), compat?.stop(), real?.stop()]);
  await removeShadowFixture(fx);
});

/** [user, password, expected verdict] for every case the issue names. */
function cases(): Array<[string, string, 'OK' | 'NO']> {
  const out: Array<[string, string, 'OK' | 'NO']> = [];
  for (const user of Object.values(fx.good)) {
    out.push([user, fx.password, 'OK'], [user, `${fx.password.slice(0, 7)}?`, 'NO']);
  }
  out.push(
    ['sat_sh_nosuchuser', fx.password, 'NO'],
    [fx.locked, fx.password, 'NO'],
    [fx.accountExpired, fx.password, 'NO'],
    [fx.passwordExpired, fx.password, 'NO'],
  );
  return out;
}

describe('Debian testsaslauthd against saslauthd-ts -a shadow', () => {
  it('gives OK for the right password of every hash scheme and NO for wrong, unknown, locked and expired', async () => {
    for (const [user, pw, want] of cases()) {
      expect([user, await verdict(ours.socket, user, pw)]).toEqual([user, want]);
    }
  });

  it('the real saslauthd -a shadow gives the same verdicts (differential)', async () => {
    const diffs: string[] = [];
    for (const [user, pw] of cases()) {
      const [a, b] = await Promise.all([verdict(ours.socket, user, pw), verdict(real.socket, user, pw)]);
      if (a !== b) diffs.push(`${user}: ours=${a} saslauthd=${b}`);
    }
    expect(diffs).toEqual([]);
  });

  it('prints exactly what testsaslauthd prints and exits 0 / 255', async () => {
    const ok = await testsaslauthd(ours.socket, fx.good.yescrypt, fx.password);
    expect([ok.code, ok.stdout, ok.stderr]).toEqual([0, '0: OK "Success."\n', '']);
    const no = await testsaslauthd(ours.socket, fx.good.yescrypt, 'nope');
    expect([no.code, no.stdout, no.stderr]).toEqual([255, '0: NO "authentication failed"\n', '']);
  });

  it('ignores the realm without -r, as saslauthd does for shadow', async () => {
    expect(await verdict(ours.socket, fx.good['sha-512'], fx.password, { realm: 'example.org', service: 'smtp' })).toBe('OK');
  });

  it('sends a uniform failure text by default and saslauthd texts with --compat-replies', async () => {
    const req = (login: string, password: string) => ({ login, password, service: 'imap', realm: '' });
    expect(await sendRequest(ours.socket, req(fx.good.md5, 'bad'))).toBe('NO authentication failed');
    expect(await sendRequest(ours.socket, req('sat_sh_nosuchuser', 'bad'))).toBe('NO authentication failed');
    expect(await sendRequest(ours.socket, req(fx.good.md5, fx.password))).toBe('OK');
    expect(await sendRequest(compat.socket, req(fx.good.md5, 'bad'))).toBe('NO Incorrect password');
    expect(await sendRequest(compat.socket, req('sat_sh_nosuchuser', 'bad'))).toBe('NO Invalid username');
    expect(await sendRequest(compat.socket, req(fx.accountExpired, fx.password))).toBe('NO Account expired');
    expect(await sendRequest(compat.socket, req(fx.passwordExpired, fx.password))).toBe('NO Password expired');
    expect(await sendRequest(compat.socket, req(fx.good.md5, fx.password))).toBe('OK');
  });

  it('logs one line per request with the saslauthd failure format and never the password', async () => {
    await verdict(ours.socket, fx.good.bcrypt, 'Wr0ngSecretValue');
    const log = ours.output();
    expect(log).toContain(`auth failure: [user=${fx.good.bcrypt}] [service=imap] [realm=] [mech=shadow] [reason=password mismatch]`);
    expect(log).toContain(`auth success: [user=${fx.good.yescrypt}] [service=imap] [realm=] [mech=shadow]`);
    expect(log).not.toContain('Wr0ngSecretValue');
    expect(log).not.toContain(fx.password);
  });
});
