import { describe, expect, it } from 'vitest';
import { describeComposition } from '../../src/auth/compose.js';
import { parseDaemonArgs } from '../../src/cli/daemon-args.js';
import { run, usage } from '../fixtures/daemon-args.js';
import { DEFAULTS } from '../../src/cli/daemon-options.js';


describe('chain, route and defence flags', () => {
  it('keeps the defaults: one backend, 2 s fail delay, 15 s cap, no routes', () => {
    const o = run(['-a', 'shadow']);
    expect(o.chain).toEqual(['shadow']);
    expect(o.failDelayMs).toBe(2000);
    expect(o.penaltyMaxMs).toBe(15000);
    expect(o.routes).toEqual([]);
    expect(o.cacheStaleOnOutageSec).toBe(0);
    expect(DEFAULTS.failDelayMs).toBe(2000);
  });

  it('parses chains, routes, continue-on, link options and trusted addresses', () => {
    const o = run([
      '-a', 'shadow,shadow:alt',
      '--route', 'smtp=shadow:alt',
      '--route', 'realm:example.org=shadow',
      '--chain-continue-on', 'unknown',
      '--chain-continue-on', 'shadow=rejected,unavailable',
      '--link-option', 'shadow:alt.shadow-file=/tmp/alt-shadow',
      '--link-option', 'shadow.passwd-file=/tmp/main-passwd',
      '--fail-delay', '0',
      '--trusted-addr', '10.0.0.0/8',
      '--trusted-addr', '::1',
      '-c', '--cache-stale-on-outage', '600',
    ]);
    expect(o.chain).toEqual(['shadow', 'shadow:alt']);
    expect(o.routes).toEqual([
      { on: 'service', value: 'smtp', chain: ['shadow:alt'] },
      { on: 'realm', value: 'example.org', chain: ['shadow'] },
    ]);
    expect(o.chainContinueOn).toEqual({ '*': ['unknown'], shadow: ['rejected', 'unavailable'] });
    expect(o.backendOverrides).toEqual({ 'shadow:alt': { 'shadow-file': '/tmp/alt-shadow' }, shadow: { 'passwd-file': '/tmp/main-passwd' } });
    expect(o.failDelayMs).toBe(0);
    expect(o.trustedAddrs).toEqual(['10.0.0.0/8', '::1']);
    expect(o.cacheStaleOnOutageSec).toBe(600);
    expect(describeComposition(o)).toEqual([
      'chain (-a): shadow [next on: rejected, unavailable] -> shadow:alt',
      'route service:smtp: shadow:alt',
      'route realm:example.org: shadow',
      'backend shadow:alt: shadow-file=/tmp/alt-shadow',
      'backend shadow: passwd-file=/tmp/main-passwd',
      'cache: on, in memory, ttl 28800 s, 964 KiB (~4406 entries), HMAC-SHA-256 with a per-start key, stale-on-outage 600 s',
      'fail delay: off',
    ]);
  });

  it('names the flag and the value in every mistake', () => {
    expect(usage(['-a', 'shadow,nosuch'])).toMatch(/unknown authentication mechanism: nosuch/);
    expect(usage(['-a', 'shadow,shadow'])).toMatch(/-a: 'shadow,shadow' names a backend twice/);
    expect(usage(['-a', 'shadow', '--route', 'smtp'])).toMatch(/--route: 'smtp' is not SELECTOR=BACKENDS/);
    expect(usage(['-a', 'shadow', '--route', 'host:x=shadow'])).toMatch(/--route: 'host:x' must be/);
    expect(usage(['-a', 'shadow', '--route', 'smtp=nosuch'])).toMatch(/unknown authentication mechanism: nosuch/);
    expect(usage(['-a', 'shadow', '--chain-continue-on', 'sometimes'])).toMatch(/--chain-continue-on: 'sometimes' is not one of/);
    expect(usage(['-a', 'shadow', '--chain-continue-on', 'ldap=none'])).toMatch(/'ldap' is not a backend named/);
    expect(usage(['-a', 'shadow', '--link-option', 'shadow.nosuch=3'])).toBe("--link-option: 'nosuch' is not an option of shadow backends (valid: passwd-file, shadow-file)");
    expect(usage(['-a', 'rimap', '-O', 'h', '--link-option', 'rimap.rimap-timeout=soon'])).toBe("--link-option rimap.rimap-timeout: 'soon' is not a whole number.");
    expect(usage(['-a', 'rimap', '-O', 'h', '--link-option', 'rimap.rimap-max-connections=0'])).toBe("--link-option rimap.rimap-max-connections: '0' must be between 1 and 100000.");
    expect(usage(['-a', 'rimap', '-O', 'h', '--link-option', 'rimap.rimap-starttls=perhaps'])).toBe("--link-option rimap.rimap-starttls: needs yes or no, got 'perhaps'");
    expect(usage(['-a', 'shadow', '--link-option', 'ldap.o=x'])).toMatch(/'ldap' is not a backend named/);
    expect(usage(['-a', 'shadow', '--trusted-addr', 'localhost'])).toMatch(/--trusted-addr: 'localhost'/);
    expect(usage(['-a', 'shadow', '--cache-stale-on-outage', '60'])).toMatch(/needs the cache \(-c\)/);
    expect(usage(['-a', 'shadow', '--fail-delay', '-1'])).toMatch(/fail-delay/);
  });

  it('--penalty-scope, --penalty-max-held, --penalty-max-tracked (issue 11 items 10, 12, 13b)', () => {
    const d = run(['-a', 'shadow']);
    expect([d.penaltyScope, d.penaltyMaxHeld, d.penaltyMaxTracked]).toEqual(['both', 4, 65536]);
    const o = run(['-a', 'shadow', '--penalty-scope', 'address', '--penalty-max-held', '8', '--penalty-max-tracked', '1000']);
    expect([o.penaltyScope, o.penaltyMaxHeld, o.penaltyMaxTracked]).toEqual(['address', 8, 1000]);
    expect(describeComposition(o)).toContain(
      'fail delay: 2000 ms (+0..25% jitter), doubles per consecutive failure of a client address up to 15000 ms; one check at a time per penalised key, at most 8 held, 1000 remembered',
    );
    expect(usage(['-a', 'shadow', '--penalty-scope', 'realm'])).toMatch(/'realm' is not one of user, address, both/);
    expect(usage(['-a', 'shadow', '--penalty-max-held', '0'])).toMatch(/must be between 1 and/);
    expect(usage(['-a', 'shadow', '--penalty-max-tracked', 'many'])).toMatch(/is not a whole number/);
  });

  it('--link-option takes only keys of that backend\'s own flag table (issue 12 item 1)', () => {
    // Daemon-wide flags and other backends' flags were accepted, listed by --check, then ignored.
    expect(usage(['-a', 'shadow', '--link-option', 'shadow.request-timeout=1'])).toBe("--link-option: 'request-timeout' is not an option of shadow backends (valid: passwd-file, shadow-file)");
    expect(usage(['-a', 'shadow', '--link-option', 'shadow.socket-mode=600'])).toBe("--link-option: 'socket-mode' is not an option of shadow backends (valid: passwd-file, shadow-file)");
    expect(usage(['-a', 'shadow', '--link-option', 'shadow.auth-timeout=5000'])).toMatch(/'auth-timeout' is not an option of shadow backends/);
    expect(usage(['-a', 'shadow', '--link-option', 'shadow.pam-queue=3'])).toMatch(/'pam-queue' is not an option of shadow backends/);
    expect(usage(['-a', 'shadow:alt', '--link-option', 'shadow:alt.o=x'])).toMatch(/'o' is not an option of shadow backends/);
    expect(usage(['-a', 'getpwent', '--link-option', 'getpwent.passwd-file=/x'])).toBe("--link-option: 'passwd-file' is not an option of getpwent backends (getpwent has none)");
    expect(usage(['-a', 'pam', '--link-option', 'pam.rimap-timeout=5'])).toBe("--link-option: 'rimap-timeout' is not an option of pam backends (valid: pam-service, pam-timeout, pam-fail-delay, pam-queue)");
    expect(usage(['-a', 'rimap', '--link-option', 'rimap.threads=3'])).toMatch(/valid: o \(mech-option\), rimap-starttls, rimap-ca, rimap-insecure, rimap-auth, rimap-timeout, /);
    const o = run(['-a', 'ldap,sasldb,rimap', '--link-option', 'sasldb.o=/tmp/db', '--link-option', 'rimap.mech-option=imap.example.org',
      '--link-option', 'rimap.rimap-timeout=3000', '--link-option', 'rimap.rimap-starttls=yes', '--link-option', 'ldap.o=/tmp/ldap.conf']);
    expect(o.backendOverrides).toEqual({
      sasldb: { 'mech-option': '/tmp/db' },
      rimap: { 'mech-option': 'imap.example.org', 'rimap-timeout': 3000, 'rimap-starttls': true },
      ldap: { 'mech-option': '/tmp/ldap.conf' },
    });
  });

  it('every backend flag keeps its saslauthd-ts name and default', () => {
    const o = run(['-a', 'shadow']);
    expect(o.backendFlags).toEqual({
      'pam-service': null, 'pam-timeout': 10000, 'pam-fail-delay': 2000, 'pam-queue': 1024,
      'krb5-timeout': 10000, 'passwd-file': '/etc/passwd', 'shadow-file': '/etc/shadow',
      'rimap-starttls': false, 'rimap-ca': null, 'rimap-insecure': false, 'rimap-auth': 'auto', 'rimap-timeout': 15000,
      'rimap-connect-timeout': 5000, 'rimap-read-timeout': 10000, 'rimap-max-connections': 16, 'rimap-max-queue': 1024, 'rimap-spare-connections': 2,
    });
    const set = run(['-a', 'shadow', '--passwd-file', '/tmp/p', '--rimap-starttls', '--rimap-auth', 'login', '--pam-service', 'imap', '--krb5-timeout', '7']);
    expect([set.backendFlags['passwd-file'], set.backendFlags['rimap-starttls'], set.backendFlags['rimap-auth'], set.backendFlags['pam-service'], set.backendFlags['krb5-timeout']])
      .toEqual(['/tmp/p', true, 'login', 'imap', 7]);
    expect(usage(['-a', 'shadow', '--rimap-auth', 'magic'])).toMatch(/--rimap-auth <mode>' argument 'magic' is invalid. 'magic' is not one of auto, plain, login/);
    expect(usage(['-a', 'shadow', '--pam-fail-delay', '60001'])).toMatch(/'60001' must be between 0 and 60000/);
  });

  it('-v with -a carries the options so the chains can be printed; --flush-cache needs no -a', () => {
    const v = parseDaemonArgs(['-v', '-a', 'shadow']);
    expect(v.kind === 'version' && v.options?.chain).toEqual(['shadow']);
    expect(parseDaemonArgs(['-v'])).toEqual({ kind: 'version', options: null });
    expect(parseDaemonArgs(['--flush-cache', '-m', '/tmp/x'])).toEqual({ kind: 'flush-cache', runDir: '/tmp/x' });
  });
});

describe('--allow-realm and -r (issue 11 item 4)', () => {
  it('lower-cases the list, refuses a realm with @, and prints the policy', () => {
    const o = run(['-a', 'shadow', '--allow-realm', 'Example.COM,mail.example.net', '-r']);
    expect(o.allowedRealms).toEqual(['example.com', 'mail.example.net']);
    expect(describeComposition(o)).toContain('request policy: login@realm (-r); realm and login domain in example.com, mail.example.net (or none)');
    expect(describeComposition(run(['-a', 'shadow'])).some((l) => l.startsWith('request policy'))).toBe(false);
    expect(usage(['-a', 'shadow', '--allow-realm', 'example.com,b@example.com'])).toBe("--allow-realm: 'b@example.com' is not a realm (it contains '@')");
  });
});
