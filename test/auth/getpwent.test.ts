import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/client/saslauthd-client.js';
import { type RunningDaemon, startOurs, startReal } from '../fixtures/daemon.js';
import { must } from '../fixtures/run.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

// getpwent reads pw_passwd through NSS, so the user under test needs its hash in /etc/passwd itself.
// Only that one sat_pam_ line is edited (under the same flock as useradd in the test helpers), and
// userdel removes it afterwards.
const INLINE = { name: 'sat_pam_gpin', password: 'Inline pw 8' };
const SHADOWED = { name: 'sat_pam_gpsh', password: 'Shadowed pw 9' };

async function movePasswdHashIntoPasswd(name: string, hash: string): Promise<void> {
  if (!name.startsWith('sat_pam_') || !/^[$./0-9A-Za-z]+$/.test(hash)) throw new Error('refusing to edit /etc/passwd');
  // sed's replacement treats & and \ specially; a crypt hash has neither, and $ and / are escaped here.
  const esc = hash.replace(/[/$]/g, (c) => `\\${c}`);
  await must('flock', ['-w', '60', '/tmp/sat-users.lock', 'sed', '-i', `s/^${name}:x:/${name}:${esc}:/`, '/etc/passwd']);
  const line = (await must('getent', ['passwd', name])).trim();
  if (line.split(':')[1] !== hash) throw new Error(`could not put the hash into /etc/passwd: ${line}`);
}

let ours: RunningDaemon;
let real: RunningDaemon;

beforeAll(async () => {
  const h = await mkpasswd(INLINE.password, 'sha-512');
  await ensureUser(INLINE.name, '!');
  await movePasswdHashIntoPasswd(INLINE.name, h);
  await ensureUser(SHADOWED.name, await mkpasswd(SHADOWED.password, 'yescrypt'));
  [ours, real] = await Promise.all([startOurs(['-a', 'getpwent', '-n', '2']), startReal(['-a', 'getpwent', '-n', '2'])]);
});

afterAll(async () => {
  await Promise.all([ours?.stop(), real?.stop()]);
  await removeUser(INLINE.name);
  await removeUser(SHADOWED.name);
});

describe('-a getpwent', () => {
  it.each([
    [INLINE.name, INLINE.password, 'OK'],
    [INLINE.name, 'wrong', 'NO'],
    [SHADOWED.name, SHADOWED.password, 'NO'],
    ['sat_pam_nosuchuser', 'x', 'NO'],
  ] as const)('%s / %s → %s, same as saslauthd -a getpwent', async (user, password, expected) => {
    const [a, b] = await Promise.all([verdict(ours.socket, user, password), verdict(real.socket, user, password)]);
    expect(a).toBe(expected);
    expect(b).toBe(expected);
  });

  it('says in the log that a shadowed password needs -a shadow or -a pam', () => {
    expect(ours.output()).toMatch(
      /auth failure: \[user=sat_pam_gpsh\].*\[reason=passwd entry holds no hash \(x or \*\): shadowed passwords need -a shadow or -a pam\]/,
    );
    expect(ours.output()).not.toContain(SHADOWED.password);
  });

  it("sends saslauthd's texts with --compat-replies", async () => {
    const d = await startOurs(['-a', 'getpwent', '--compat-replies']);
    try {
      const ask = (login: string, password: string) => sendRequest(d.socket, { login, password, service: 'imap', realm: '' });
      expect(await ask(INLINE.name, INLINE.password)).toBe('OK');
      expect(await ask(INLINE.name, 'wrong')).toBe('NO Incorrect password');
      expect(await ask('sat_pam_nosuchuser', 'x')).toBe('NO Invalid username');
      expect(await ask(SHADOWED.name, SHADOWED.password)).toBe('NO Incorrect password');
    } finally {
      await d.stop();
    }
  });
});
