import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expandTokens } from '../../src/auth/backends/ldap/tokens.js';
import { RequestPolicyAuthenticator, describeRequestPolicy } from '../../src/auth/request-policy.js';
import { FakeAuthenticator, req } from '../fixtures/fake-authenticator.js';

const signal = new AbortController().signal;

function setup(allowedRealms: readonly string[], realmConcat = false) {
  const backend = new FakeAuthenticator('ldap', { carl: 'pw', 'carl@example.com': 'pw', 'carl@example.org': 'pw', 'carl@example.org@example.com': 'pw' });
  return { backend, policy: new RequestPolicyAuthenticator(backend, { allowedRealms, realmConcat }) };
}

const refused = (reason: string) => ({ kind: 'rejected', code: 'not-authorized', reason, compat: 'NO authentication failed', log: { policy: 'allow-realm' } });

describe('RequestPolicyAuthenticator: -r', () => {
  it('folds a non-empty realm into the login before any backend sees it, and says so for the log', async () => {
    const { backend, policy } = setup([], true);
    expect((await policy.authenticate(req('carl', 'pw', 'imap', 'example.com'), signal)).kind).toBe('ok');
    expect((await policy.authenticate(req('carl', 'pw'), signal)).kind).toBe('ok');
    expect(backend.calls).toEqual([
      { login: 'carl@example.com', service: 'imap', realm: 'example.com' },
      { login: 'carl', service: 'imap', realm: '' },
    ]);
    expect(policy.loginFor(req('carl', 'pw', 'imap', 'example.com'))).toBe('carl@example.com');
    expect(policy.loginFor(req('carl', 'pw'))).toBe('carl');
  });

  it('without -r the login goes on as sent', async () => {
    const { backend, policy } = setup([]);
    await policy.authenticate(req('carl', 'pw', 'imap', 'example.com'), signal);
    expect(backend.calls[0]?.login).toBe('carl');
    expect(policy.loginFor(req('carl', 'pw', 'imap', 'example.com'))).toBe('carl');
  });
});

describe('RequestPolicyAuthenticator: --allow-realm (issue 11 item 4)', () => {
  it('with no list, every realm and domain passes, as in saslauthd', async () => {
    const { backend, policy } = setup([]);
    expect((await policy.authenticate(req('carl@example.org', 'pw', 'imap', 'anything.example'), signal)).kind).toBe('ok');
    expect(backend.calls).toHaveLength(1);
  });

  it.each([
    ['carl@example.org', '', false, 'login domain example.org is not in --allow-realm'],
    ['carl@example.org', 'example.com', false, 'login domain example.org is not in --allow-realm'],
    ['carl@example.org', '', true, 'login domain example.org is not in --allow-realm'],
    ['carl@example.org', 'example.com', true, 'login domain example.org@example.com is not in --allow-realm'],
    ['carl@b@example.com', '', false, 'login domain b@example.com is not in --allow-realm'],
    ['carl@', '', false, 'login domain  is not in --allow-realm'],
    ['carl', 'example.org', false, 'realm example.org is not in --allow-realm'],
    ['carl', 'example.org', true, 'realm example.org is not in --allow-realm'],
    ['carl@example.com', 'example.com ', false, 'realm example.com  is not in --allow-realm'],
  ])('%s realm=%s -r=%s: refused without asking the backend', async (login, realm, concat, reason) => {
    const { backend, policy } = setup(['example.com'], concat);
    expect(await policy.authenticate(req(login, 'pw', 'imap', realm), signal)).toEqual(refused(reason));
    expect(backend.calls).toEqual([]);
  });

  it.each([
    ['carl', '', false, 'carl'],
    ['carl@example.com', '', false, 'carl@example.com'],
    ['carl@EXAMPLE.COM', '', false, 'carl@EXAMPLE.COM'],
    ['carl', 'Example.Com', false, 'carl'],
    ['carl', 'example.com', true, 'carl@example.com'],
    ['carl@example.com', '', true, 'carl@example.com'],
  ])('%s realm=%s -r=%s: passes as %s', async (login, realm, concat, seen) => {
    const { backend, policy } = setup(['example.com'], concat);
    await policy.authenticate(req(login, 'pw', 'imap', realm), signal);
    expect(backend.calls.map((c) => c.login)).toEqual([seen]);
  });

  it('what passes is what LDAP %d and a last-@ split (libsasl client) both call an allowed domain (property)', async () => {
    const allowed = ['example.com', 'mail.example.net'];
    const part = fc.constantFrom('carl', '@', '.', 'example', 'com', 'EXAMPLE', 'mail', 'net', 'org', ' ', '');
    const text = fc.array(part, { maxLength: 8 }).map((a) => a.join(''));
    await fc.assert(
      fc.asyncProperty(text, text, fc.boolean(), async (login, realm, realmConcat) => {
        const backend = new FakeAuthenticator('ldap');
        const policy = new RequestPolicyAuthenticator(backend, { allowedRealms: allowed, realmConcat });
        const o = await policy.authenticate(req(login, 'pw', 'imap', realm), signal);
        const seen = backend.calls[0];
        if (seen === undefined) {
          expect(o).toMatchObject({ kind: 'rejected', code: 'not-authorized' });
          return;
        }
        expect(seen.login).toBe(policy.loginFor(req(login, 'pw', 'imap', realm)));
        const d = expandTokens('%d', { login: seen.login, realm: seen.realm, service: 'imap' }, 'filter');
        expect(d === '' || allowed.includes(d.toLowerCase())).toBe(true);
        const at = seen.login.lastIndexOf('@');
        if (at >= 0) expect(seen.login.slice(at + 1)).toBe(seen.login.slice(seen.login.indexOf('@') + 1));
        if (seen.realm !== '') expect(allowed).toContain(seen.realm.toLowerCase());
      }),
      { numRuns: 2000 },
    );
  });
});

describe('describeRequestPolicy', () => {
  it('names -r and the list', () => {
    expect(describeRequestPolicy({ realmConcat: true, allowedRealms: ['example.com', 'example.net'] })).toBe(
      'request policy: login@realm (-r); realm and login domain in example.com, example.net (or none)',
    );
    expect(describeRequestPolicy({ realmConcat: false, allowedRealms: [] })).toBe('request policy: login as sent (realm not folded in); any realm or login domain');
  });
});
