import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../../fixtures/daemon.js';
import { removePamService, writePamService } from '../../fixtures/pam.js';
import { verdict } from '../../fixtures/testsaslauthd.js';
import { ensureUser, removeUser } from '../../fixtures/users.js';

// An account whose shadow password field is empty (`passwd -d`): Debian's common-auth has
// `pam_unix.so nullok`, which lets such an account in with any password. -a shadow refuses it, and
// -a pam must give the same verdict (PAM_DISALLOW_NULL_AUTHTOK), whichever stack the client names.
const EMPTY = 'sat_pm_nullpw';
const NULLOK = 'sat-pam-pm-nullok';
// Empty-ish and random passwords; '' is what a client sends for "no password".
const PASSWORDS = ['', ' ', 'x', `random ${Math.random().toString(36).slice(2)}`];
const SERVICES = ['smtp', 'other', 'dovecot', 'login', NULLOK];

let pam: RunningDaemon;
let shadow: RunningDaemon;

beforeAll(async () => {
  writePamService(NULLOK, 'auth required pam_unix.so nullok\naccount required pam_unix.so\n');
  // usermod -p '' leaves the second field of /etc/shadow empty, exactly as `passwd -d` does.
  await ensureUser(EMPTY, '');
  [pam, shadow] = await Promise.all([
    startOurs(['-a', 'pam', '-n', '3', '--pam-fail-delay', '0']),
    startOurs(['-a', 'shadow']),
  ]);
});

afterAll(async () => {
  await Promise.all([pam?.stop(), shadow?.stop()]);
  await removeUser(EMPTY);
  removePamService(NULLOK);
});

describe('an account with an empty shadow password field', () => {
  it('really has an empty field (the precondition this test is about)', async () => {
    const { must } = await import('../../fixtures/run.js');
    expect((await must('getent', ['shadow', EMPTY])).split(':')[1]).toBe('');
  });

  it.each(PASSWORDS.map((p) => [JSON.stringify(p), p]))('password %s: -a shadow says NO', async (_label, password) => {
    expect(await verdict(shadow.socket, EMPTY, password)).toBe('NO');
  });

  it.each(PASSWORDS.map((p) => [JSON.stringify(p), p]))('password %s: -a pam says NO through every nullok stack', async (_label, password) => {
    const got = await Promise.all(SERVICES.map(async (s) => `${s}: ${await verdict(pam.socket, EMPTY, password, { service: s })}`));
    expect(got).toEqual(SERVICES.map((s) => `${s}: NO`));
  });

  it('is refused by pam_unix itself (it asked for the password and said no), not only by the "never asked" rule', () => {
    const lines = pam.output().split('\n').filter((l) => l.includes(`auth failure: [user=${EMPTY}]`));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/\[reason=pam_authenticate failed: Authentication failure \(PAM code 7\)\]/);
  });
});
