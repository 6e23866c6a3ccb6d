import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kerberos5OptionsFrom } from '../../../src/auth/backends/kerberos5/options.js';
import { formPrincipalName } from '../../../src/auth/backends/kerberos5/principal.js';

const none = { convKrb4Instance: false, serviceInstances: new Map<string, string>() };
const smtpMail = { convKrb4Instance: false, serviceInstances: new Map([['smtp', 'mail']]) };

describe('principal name, as saslauthd forms it (form_principal_name)', () => {
  it.each([
    ['joe', 'imap', '', none, 'joe'],
    ['joe', 'imap', 'EXAMPLE.ORG', none, 'joe@EXAMPLE.ORG'],
    // -r folded the realm in already; saslauthd appends it again.
    ['joe@EXAMPLE.ORG', 'imap', 'EXAMPLE.ORG', none, 'joe@EXAMPLE.ORG@EXAMPLE.ORG'],
    ['joe.admin', 'imap', '', { ...none, convKrb4Instance: true }, 'joe/admin'],
    ['joe.a.b', 'imap', '', { ...none, convKrb4Instance: true }, 'joe/a.b'],
    ['joe', 'smtp', 'R', smtpMail, 'joe/mail@R'],
    ['joe/mail', 'smtp', '', smtpMail, 'joe/mail'],
    ['joe', 'imap', '', smtpMail, 'joe'],
    // The service lookup is exact, as saslauthd's (its keys are lower-cased, the service is not).
    ['joe', 'SMTP', '', smtpMail, 'joe'],
  ])('%j service %j realm %j', (login, service, realm, rules, name) => {
    expect(formPrincipalName(login, service, realm, rules)).toEqual({ ok: true, name });
  });

  it('a login naming another instance than the forced one is refused; everything after the first / counts', () => {
    expect(formPrincipalName('joe/admin', 'smtp', '', smtpMail)).toMatchObject({ ok: false });
    expect(formPrincipalName('joe/mail@R', 'smtp', '', smtpMail)).toMatchObject({ ok: false });
  });

  it('a service named like a prototype key finds no instance', () => {
    expect(formPrincipalName('joe', '__proto__', '', none)).toEqual({ ok: true, name: 'joe' });
    expect(formPrincipalName('joe', 'constructor', '', none)).toEqual({ ok: true, name: 'joe' });
  });

  it('names longer than saslauthd`s 2047-byte buffer are refused', () => {
    expect(formPrincipalName('a'.repeat(2047), 'imap', '', none)).toMatchObject({ ok: true });
    expect(formPrincipalName('a'.repeat(2040), 'imap', 'EXAMPLE', none)).toMatchObject({ ok: false });
  });
});

describe('krb5_* keys from -O', () => {
  const dir = mkdtempSync('/tmp/sat_kr_opts-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const from = (text: string) => {
    const f = join(dir, 'c.conf');
    writeFileSync(f, text);
    return kerberos5OptionsFrom({ mechOption: f, krb5TimeoutMs: 1234, concurrency: 3 });
  };

  it('defaults: default keytab, verify principal host/<this host>', () => {
    const { options, warnings } = from('# nothing\n');
    expect(options).toMatchObject({ keytab: null, verifyService: 'host', serverName: null, convKrb4Instance: false, timeoutMs: 1234, concurrency: 3 });
    expect(options.serviceInstances.size).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('reads every key; other backends` keys are skipped, unknown krb5_ keys warned about', () => {
    const { options, warnings } = from(
      'ldap_servers: ldap://x/\nkrb5_keytab: /etc/k.keytab\nKRB5_Verify_Principal: imap\nkrb5_servername: mail.example.org\nkrb5_conv_krb4_instance: yes\nkrb5_smtp_instance: mail\nkrb5_uppercase_realm: yes\n',
    );
    expect(options).toMatchObject({ keytab: '/etc/k.keytab', verifyService: 'imap', serverName: 'mail.example.org', convKrb4Instance: true });
    expect([...options.serviceInstances]).toEqual([['smtp', 'mail']]);
    expect(warnings).toEqual([expect.stringContaining(':7: krb5_uppercase_realm: not a key')]);
  });

  it('a full principal in krb5_verify_principal or a bad boolean is an error naming file, line and key', () => {
    expect(() => from('\nkrb5_verify_principal: host/x@R\n')).toThrow(/c\.conf:2: krb5_verify_principal: .*service part only/);
    expect(() => from('krb5_conv_krb4_instance: maybe\n')).toThrow(/c\.conf:1: krb5_conv_krb4_instance: "maybe" is not a boolean/);
  });

  it('an unreadable -O file is an error', () => {
    expect(() => kerberos5OptionsFrom({ mechOption: join(dir, 'missing.conf'), krb5TimeoutMs: 1, concurrency: 1 })).toThrow(/missing\.conf: cannot read: ENOENT/);
  });
});
