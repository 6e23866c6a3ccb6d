import { describe, expect, it } from 'vitest';
import { ChainAuthenticator, type ContinueOn, DEFAULT_CONTINUE_ON } from '../../src/auth/chain.js';
import { RoutingAuthenticator } from '../../src/auth/routing.js';
import { FakeAuthenticator, down, req } from '../fixtures/fake-authenticator.js';

const signal = new AbortController().signal;

function chain(on: readonly ContinueOn[] = DEFAULT_CONTINUE_ON) {
  const ldap = new FakeAuthenticator('ldap', { alice: 'ldap-pw' });
  const shadow = new FakeAuthenticator('shadow', { alice: 'shadow-pw', bob: 'bob-pw' });
  const c = new ChainAuthenticator([
    { name: 'ldap', authenticator: ldap, continueOn: new Set(on) },
    { name: 'shadow', authenticator: shadow, continueOn: new Set(on) },
  ]);
  return { ldap, shadow, c };
}

/** A signal that `link` aborts while it answers (the client goes away during the first backend). */
function abortedBy(link: FakeAuthenticator): AbortSignal {
  const ctl = new AbortController();
  link.authenticate = async (r) => {
    ctl.abort();
    return FakeAuthenticator.prototype.authenticate.call(link, r);
  };
  return ctl.signal;
}

describe('ChainAuthenticator', () => {
  it('first link down: the second answers', async () => {
    const { ldap, shadow, c } = chain();
    ldap.forced = down();
    expect(await c.authenticate(req('bob', 'bob-pw'), signal)).toEqual({ kind: 'ok', compat: 'OK', log: { via: 'shadow' } });
    expect(shadow.calls).toHaveLength(1);
  });

  it('user unknown in the first link: the second answers', async () => {
    const { ldap, shadow, c } = chain();
    expect((await c.authenticate(req('bob', 'bob-pw'), signal)).kind).toBe('ok');
    expect(ldap.calls).toHaveLength(1);
    expect(shadow.calls).toHaveLength(1);
  });

  it('a request aborted before the next link is asked gets no verdict: unavailable, not the first link\'s NO', async () => {
    const { ldap, shadow, c } = chain();
    const o = await c.authenticate(req('bob', 'bob-pw'), abortedBy(ldap));
    expect(o).toMatchObject({ kind: 'unavailable', code: 'timeout', reason: 'request ended before shadow was asked (ldap: unknown user)', log: { via: 'ldap' } });
    expect(shadow.calls).toHaveLength(0);
  });

  it('an aborted request after a wrong password in the first link still gets that NO (the chain had stopped)', async () => {
    const { ldap, shadow, c } = chain();
    expect(await c.authenticate(req('alice', 'shadow-pw'), abortedBy(ldap))).toMatchObject({ kind: 'rejected', code: 'bad-password', log: { via: 'ldap' } });
    expect(shadow.calls).toHaveLength(0);
  });

  it('wrong password in the first link stops the chain by default', async () => {
    const { ldap, shadow, c } = chain();
    const o = await c.authenticate(req('alice', 'shadow-pw'), signal);
    expect(o).toMatchObject({ kind: 'rejected', code: 'bad-password', reason: 'ldap: wrong password', log: { via: 'ldap' } });
    expect(ldap.calls).toHaveLength(1);
    expect(shadow.calls).toHaveLength(0);
  });

  it('continue on rejected: a wrong password in the first link goes on', async () => {
    const { shadow, c } = chain(['unknown', 'unavailable', 'rejected']);
    expect((await c.authenticate(req('alice', 'shadow-pw'), signal)).kind).toBe('ok');
    expect(shadow.calls).toHaveLength(1);
  });

  it('continue on nothing: unknown user and outage both stop', async () => {
    const { ldap, shadow, c } = chain([]);
    expect((await c.authenticate(req('bob', 'bob-pw'), signal)).kind).toBe('rejected');
    ldap.forced = down();
    expect((await c.authenticate(req('bob', 'bob-pw'), signal)).kind).toBe('unavailable');
    expect(shadow.calls).toHaveLength(0);
  });

  it('an outage followed by "unknown user" is an outage, with both reasons', async () => {
    const { ldap, c } = chain();
    ldap.forced = down();
    const o = await c.authenticate(req('nobody', 'x'), signal);
    expect(o).toMatchObject({ kind: 'unavailable', code: 'connect-failed', reason: 'ldap: server down; shadow: unknown user' });
  });

  it('unknown everywhere is unknown', async () => {
    const { c } = chain();
    expect(await c.authenticate(req('nobody', 'x'), signal)).toMatchObject({ kind: 'rejected', code: 'unknown-user' });
  });

  it('describes itself and closes every link', async () => {
    const { ldap, shadow, c } = chain();
    expect(c.name).toBe('ldap,shadow');
    expect(c.describe()).toEqual(['ldap [next on: unknown, unavailable] -> shadow']);
    await c.close();
    expect([ldap.closed, shadow.closed]).toEqual([1, 1]);
  });
});

describe('RoutingAuthenticator', () => {
  it('routes by service and by realm, first match wins, default otherwise', async () => {
    const def = new FakeAuthenticator('shadow', { u: 'p' });
    const smtp = new FakeAuthenticator('ldap', { u: 'p' });
    const realm = new FakeAuthenticator('rimap', { u: 'p' });
    const r = new RoutingAuthenticator(
      [
        { match: { on: 'service', value: 'smtp' }, target: smtp },
        { match: { on: 'realm', value: 'Example.org' }, target: realm },
      ],
      def,
    );
    expect(await r.authenticate(req('u', 'p', 'SMTP', 'example.org'), signal)).toEqual({ kind: 'ok', compat: 'OK', log: { route: 'service:smtp', via: 'ldap' } });
    expect((await r.authenticate(req('u', 'p', 'imap', 'EXAMPLE.ORG'), signal)).log).toEqual({ route: 'realm:Example.org', via: 'rimap' });
    expect((await r.authenticate(req('u', 'p', 'imap', 'other.org'), signal)).log).toBeUndefined();
    expect([smtp.calls.length, realm.calls.length, def.calls.length]).toEqual([1, 1, 1]);
  });
});

describe('ChainAuthenticator and account checks (issue 11 item 7)', () => {
  it("hands on the accepting link's account check with the OK, and none when that link has none", async () => {
    const { ldap, shadow, c } = chain();
    const check = async () => null;
    Object.assign(shadow, { accountCheck: check });
    const viaShadow = await c.authenticate(req('bob', 'bob-pw'), signal);
    expect(viaShadow.kind === 'ok' && viaShadow.recheck).toBe(check);
    const viaLdap = await c.authenticate(req('alice', 'ldap-pw'), signal);
    expect(viaLdap).toEqual({ kind: 'ok', compat: 'OK', log: { via: 'ldap' } });
    expect('recheck' in viaLdap).toBe(false);
    expect(ldap.calls).toHaveLength(2);
  });
});
