import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../../fixtures/daemon.js';
import { removePamService, writePamService } from '../../fixtures/pam.js';
import { verdict } from '../../fixtures/testsaslauthd.js';
import { ensureUser, mkpasswd, removeUser } from '../../fixtures/users.js';

// The service field picks the PAM stack, and whoever reaches the socket writes it. Whatever stack
// they name, a wrong password must be NO: not through pam_rootok (su, su-l, runuser, runuser-l, chfn,
// chsh on Debian, which test the helper's real uid), not through any module that says yes without
// asking for the password. Checked with Debian's testsaslauthd against every file in /etc/pam.d.
const USER = { name: 'sat_pm_any', password: 'Any pw 1!' };
const LOCKED = { name: 'sat_pm_anylock', password: 'Locked pw 2!' };
const WRONG = 'wrong';

// Stacks a careless admin (or another package) could leave in /etc/pam.d; each says yes to root
// without checking the password when the helper runs with real uid 0 or when "no password asked"
// is taken as a yes.
const HOSTILE: Record<string, string> = {
  // Asks for the password (pam_unix fails, optional), then pam_rootok: only the real-uid drop stops it.
  'sat-pam-pm-rootok-late': 'auth optional pam_unix.so\nauth sufficient pam_rootok.so\nauth required pam_deny.so\naccount required pam_permit.so\n',
  'sat-pam-pm-permit': 'auth required pam_permit.so\naccount required pam_permit.so\n',
  'sat-pam-pm-succeed-if': 'auth sufficient pam_succeed_if.so uid >= 0 quiet\nauth required pam_deny.so\naccount required pam_permit.so\n',
  'sat-pam-pm-wheel': 'auth sufficient pam_wheel.so trust use_uid group=root\nauth required pam_unix.so\naccount required pam_permit.so\n',
};

// A pam_exec probe that records the credentials of the process PAM runs in (the helper's fork).
const PROBE_DIR = '/tmp/sat-pm-uid';
const PROBE = 'sat-pam-pm-uid-probe';

let d: RunningDaemon;

beforeAll(async () => {
  for (const [name, body] of Object.entries(HOSTILE)) writePamService(name, body);
  rmSync(PROBE_DIR, { recursive: true, force: true });
  mkdirSync(PROBE_DIR);
  writeFileSync(`${PROBE_DIR}/uid.sh`, `#!/bin/sh\ngrep -E '^(Uid|Gid):' /proc/$PPID/status > ${PROBE_DIR}/out\n`);
  chmodSync(`${PROBE_DIR}/uid.sh`, 0o755);
  writePamService(PROBE, `auth optional pam_exec.so seteuid ${PROBE_DIR}/uid.sh\nauth required pam_unix.so\naccount required pam_unix.so\n`);
  await ensureUser(USER.name, await mkpasswd(USER.password, 'yescrypt'));
  await ensureUser(LOCKED.name, `!${await mkpasswd(LOCKED.password, 'sha-512')}`);
  d = await startOurs(['-a', 'pam', '-n', '4', '--pam-fail-delay', '0', '--pam-timeout', '5000']);
});

afterAll(async () => {
  await d?.stop();
  for (const name of [...Object.keys(HOSTILE), PROBE]) removePamService(name);
  rmSync(PROBE_DIR, { recursive: true, force: true });
  await removeUser(USER.name);
  await removeUser(LOCKED.name);
});

/** Every regular file in /etc/pam.d right now: what a client can name with the service field. */
function pamStacks(): string[] {
  return readdirSync('/etc/pam.d')
    .filter((f) => {
      try {
        return statSync(`/etc/pam.d/${f}`).isFile();
      } catch {
        return false; // removed meanwhile (another test's stack)
      }
    })
    .sort();
}

/** Runs `jobs` at most `n` at a time (two cores shared with other tests). */
async function limited<T>(n: number, jobs: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

/** Asks every (service, user) pair with `password`; returns those whose verdict is not NO. */
async function notNo(services: string[], users: string[], password: string): Promise<string[]> {
  const pairs = services.flatMap((s) => users.map((u) => [s, u] as const));
  const verdicts = await limited(
    6,
    pairs.map(([s, u]) => () => verdict(d.socket, u, password, { service: s }).catch((e: Error) => `error: ${e.message}`)),
  );
  return pairs.flatMap(([s, u], i) => (verdicts[i] === 'NO' ? [] : [`${s} ${u}: ${verdicts[i]}`]));
}

describe('-a pam: the service field cannot pick a stack that says yes to a wrong password', () => {
  it('every stack in /etc/pam.d (listed now) says NO to a wrong password for root, a sat_ user and a locked sat_ user', async () => {
    const stacks = pamStacks();
    // The Debian stacks with pam_rootok, and the hostile ones above, are among them.
    for (const s of ['su', 'su-l', 'runuser', 'runuser-l', 'chfn', 'other', ...Object.keys(HOSTILE)]) expect(stacks).toContain(s);
    expect(await notNo(stacks, ['root', USER.name, LOCKED.name], WRONG)).toEqual([]);
  }, 300_000);

  it('a service with no file of its own (so "other") and an empty password are NO too', async () => {
    expect(await notNo(['sat-pam-pm-nosuchservice', 'su', 'runuser'], ['root', USER.name], '')).toEqual([]);
    // PAM lower-cases the service name, so SU is su.
    expect(await notNo(['sat-pam-pm-nosuchservice', 'SU', 'Su-L', 'RUNUSER', 'CHFN'], ['root', USER.name, LOCKED.name], WRONG)).toEqual([]);
  });

  it('logs why a stack that never asked for the password is refused', async () => {
    expect(await verdict(d.socket, 'root', WRONG, { service: 'sat-pam-pm-permit' })).toBe('NO');
    expect(d.output()).toMatch(
      /auth failure: \[user=root\] \[service=sat-pam-pm-permit\].*\[reason=pam_authenticate returned success without asking for the password; refused\]/,
    );
  });

  it('the right password still works through the Debian stacks that check it, su and runuser-free ones alike', async () => {
    for (const s of ['other', 'sat-pam-pm-nosuchservice', 'dovecot', 'login', 'su', 'su-l', 'chfn', 'sat-pam-pm-wheel']) {
      expect([s, await verdict(d.socket, USER.name, USER.password, { service: s })]).toEqual([s, 'OK']);
    }
    // Locked stays locked with its right password, and runuser (pam_rootok only) checks no password at all.
    for (const s of ['other', 'su']) expect([s, await verdict(d.socket, LOCKED.name, LOCKED.password, { service: s })]).toEqual([s, 'NO']);
    expect(await verdict(d.socket, USER.name, USER.password, { service: 'runuser' })).toBe('NO');
  });

  it('PAM runs with the real uid and gid of nobody, the effective and saved ones root (so /etc/shadow stays readable)', async () => {
    const { must } = await import('../../fixtures/run.js');
    const uid = (await must('id', ['-u', 'nobody'])).trim();
    const gid = (await must('id', ['-g', 'nobody'])).trim();
    expect(await verdict(d.socket, USER.name, USER.password, { service: PROBE })).toBe('OK');
    const status = readFileSync(`${PROBE_DIR}/out`, 'utf8').replace(/[ \t]+/g, ' ');
    // /proc status order: real, effective, saved, filesystem.
    expect(status).toBe(`Uid: ${uid} 0 0 0\nGid: ${gid} 0 0 0\n`);
  });
});
