import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOurs } from '../fixtures/daemon.js';
import { PostfixHarness, SMTP_AUTH_FAILED } from '../fixtures/postfix.js';
import { run } from '../fixtures/run.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

// Issue 14 item 6, the other half: Postfix sends saslauthd no client address, so an SMTP AUTH
// guesser is banned from Postfix's own log with fail2ban's stock postfix[mode=auth] filter (the
// [postfix-sasl] jail of contrib/fail2ban/jail.d/saslauthd-ts.local). A real smtpd, swaks and
// saslauthd-ts; Debian's fail2ban-regex reads the maillog Postfix wrote.
const PORT = 27325;
const WORK = '/tmp/sat_lg-postfix';
const MARK = '# sat_lg test configuration';
const USER = 'sat_lg_pf';
const PASSWORD = 'Lg pf pass';
const pf = new PostfixHarness({ port: PORT, work: WORK, mark: MARK });

beforeAll(async () => {
  await pf.begin();
  await ensureUser(USER, await mkpasswd(PASSWORD, 'yescrypt'));
}, 960_000);

afterAll(async () => {
  try {
    await pf.stop();
    await removeUser(USER);
  } finally {
    await pf.end();
  }
}, 120_000);

describe('SMTP AUTH failures: Postfix log + postfix[mode=auth]', () => {
  it("bans the SMTP client from Postfix's line; saslauthd-ts's line for the same failure has no address", async () => {
    const runDir = join(WORK, 'run');
    pf.writeMasterCf(false);
    pf.writeSmtpdConf(join(runDir, 'mux'));
    await pf.restart();
    const d = await startOurs(['-a', 'shadow', '--socket-mode', '0660', '--socket-group', 'sasl'], { dir: runDir });
    try {
      expect(await pf.smtpAuth('PLAIN', USER, 'wrong 1')).toBe(SMTP_AUTH_FAILED);
      expect(await pf.smtpAuth('LOGIN', 'x [remote=198.51.100.9;1', 'wrong 2')).toBe(SMTP_AUTH_FAILED);
    } finally {
      expect(await d.stop()).toBe(0);
      rmSync(runDir, { recursive: true, force: true });
    }
    // saslauthd-ts saw the failures without an address: its filter has nothing to ban.
    expect(d.output()).toContain(`auth failure: [user=${USER}] [service=smtp] [realm=] [mech=shadow] [reason=password mismatch]`);
    expect(d.output()).not.toMatch(/\[remote=/);
    // Postfix logged the client's address itself; the stock filter reads it, once per failure.
    let log = '';
    for (let i = 0; i < 100 && (log.match(/authentication failed/g) ?? []).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      log = pf.maillog();
    }
    expect(log).toMatch(/postfix\/smtpd\[\d+\]: warning: [^\s[]+\[127\.0\.0\.1\]: SASL PLAIN authentication failed: /);
    const r = await run('fail2ban-regex', ['-o', 'ip', join(WORK, 'maillog'), 'postfix[mode=auth]']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('127.0.0.1\n127.0.0.1\n');
  }, 120_000);
});
