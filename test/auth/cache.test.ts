import { createHash, createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CacheAuthenticator, CredentialCache, ENTRY_OVERHEAD_BYTES } from '../../src/auth/cache.js';
import { type AuthRequest, type Outcome, rejected, unavailable } from '../../src/auth/authenticator.js';
import { ChainAuthenticator, DEFAULT_CONTINUE_ON } from '../../src/auth/chain.js';
import { Secret } from '../../src/auth/secret.js';
import { FakeAuthenticator, down, req } from '../fixtures/fake-authenticator.js';

const log = pino({ level: 'silent' });
const signal = new AbortController().signal;

function setup(o: { ttlMs?: number; maxBytes?: number; staleMs?: number } = {}) {
  let t = 1000;
  const key = Buffer.alloc(32, 7);
  const cache = new CredentialCache({ ttlMs: o.ttlMs ?? 60_000, maxBytes: o.maxBytes ?? 1 << 20, staleMs: o.staleMs ?? 0, now: () => t, hmacKey: key });
  const backend = new FakeAuthenticator('shadow', { alice: 'pw1', bob: 'pwb' });
  const a = new CacheAuthenticator(backend, cache, log);
  return { cache, backend, a, key, advance: (ms: number) => (t += ms) };
}

describe('CacheAuthenticator', () => {
  it('answers a repeated success from the cache without asking the backend, marked cached', async () => {
    const { a, backend } = setup();
    expect(await a.authenticate(req('alice', 'pw1'), signal)).toEqual({ kind: 'ok', compat: 'OK' });
    const second = await a.authenticate(req('alice', 'pw1'), signal);
    expect(second).toEqual({ kind: 'ok', compat: 'OK', log: { cached: true } });
    expect(backend.calls).toHaveLength(1);
  });

  it('sends a wrong password to the backend and keeps the entry', async () => {
    const { a, backend, cache } = setup();
    await a.authenticate(req('alice', 'pw1'), signal);
    const wrong = await a.authenticate(req('alice', 'nope'), signal);
    expect(wrong.kind).toBe('rejected');
    expect(backend.calls).toHaveLength(2);
    expect(cache.size).toBe(1);
    expect((await a.authenticate(req('alice', 'pw1'), signal)).log).toEqual({ cached: true });
    expect(backend.calls).toHaveLength(2);
  });

  it('refuses the old password once the new one has succeeded', async () => {
    const { a, backend } = setup();
    await a.authenticate(req('alice', 'pw1'), signal);
    backend.users['alice'] = 'pw2';
    // Until the new password is used, the old one still answers from the cache (saslauthd's semantics).
    expect((await a.authenticate(req('alice', 'pw1'), signal)).log).toEqual({ cached: true });
    expect((await a.authenticate(req('alice', 'pw2'), signal)).kind).toBe('ok');
    const old = await a.authenticate(req('alice', 'pw1'), signal);
    expect(old.kind).toBe('rejected');
    expect(backend.calls).toHaveLength(3);
  });

  it('expires an entry exactly at the TTL, and hits do not extend it', async () => {
    const { a, backend, advance } = setup({ ttlMs: 10_000 });
    await a.authenticate(req('alice', 'pw1'), signal);
    advance(9_999);
    expect((await a.authenticate(req('alice', 'pw1'), signal)).log).toEqual({ cached: true });
    advance(1);
    expect(await a.authenticate(req('alice', 'pw1'), signal)).toEqual({ kind: 'ok', compat: 'OK' });
    expect(backend.calls).toHaveLength(2);
  });

  it('keys on service, realm and login', async () => {
    const { a, backend } = setup();
    await a.authenticate(req('alice', 'pw1', 'imap'), signal);
    await a.authenticate(req('alice', 'pw1', 'smtp'), signal);
    await a.authenticate(req('alice', 'pw1', 'imap', 'example.org'), signal);
    expect(backend.calls).toHaveLength(3);
  });

  it('flush() empties it', async () => {
    const { a, backend, cache } = setup();
    await a.authenticate(req('alice', 'pw1'), signal);
    expect(cache.flush()).toBe(1);
    expect(cache.bytes).toBe(0);
    await a.authenticate(req('alice', 'pw1'), signal);
    expect(backend.calls).toHaveLength(2);
  });

  it('flush(user) drops every entry of that user (folded like the penalty keys) and no other', async () => {
    const { a, backend, cache } = setup();
    backend.users['Alice'] = 'pw1';
    await a.authenticate(req('alice', 'pw1', 'imap'), signal);
    await a.authenticate(req('Alice', 'pw1', 'smtp', 'example.org'), signal);
    await a.authenticate(req('bob', 'pwb'), signal);
    const bytes = cache.bytes;
    expect(cache.flush(' ALICE@elsewhere')).toBe(2);
    expect(cache.size).toBe(1);
    expect(cache.bytes).toBeLessThan(bytes);
    expect(cache.flush('carol')).toBe(0);
    expect((await a.authenticate(req('bob', 'pwb'), signal)).log).toEqual({ cached: true });
    expect(await a.authenticate(req('alice', 'pw1', 'imap'), signal)).toEqual({ kind: 'ok', compat: 'OK' });
    expect(backend.calls).toHaveLength(4);
  });

  it('never caches a failure or an outage', async () => {
    const { a, cache, backend } = setup();
    await a.authenticate(req('alice', 'bad'), signal);
    await a.authenticate(req('nobody', 'x'), signal);
    backend.forced = down();
    await a.authenticate(req('alice', 'pw1'), signal);
    expect(cache.size).toBe(0);
  });
});

describe('stale-on-outage', () => {
  it('is off by default: an outage is an outage even with a fresh entry', async () => {
    const { a, backend, advance } = setup({ ttlMs: 1000 });
    await a.authenticate(req('alice', 'pw1'), signal);
    advance(1000);
    backend.forced = down();
    expect((await a.authenticate(req('alice', 'pw1'), signal)).kind).toBe('unavailable');
  });

  it('answers OK from an expired entry younger than the window only while the backend is unavailable', async () => {
    const { a, backend, advance } = setup({ ttlMs: 1000, staleMs: 5000 });
    await a.authenticate(req('alice', 'pw1'), signal);
    advance(2000);
    backend.forced = down();
    expect(await a.authenticate(req('alice', 'pw1'), signal)).toEqual({ kind: 'ok', compat: 'OK', log: { cached: true, stale: true } });
    expect((await a.authenticate(req('alice', 'other'), signal)).kind).toBe('unavailable');
    advance(3000);
    expect((await a.authenticate(req('alice', 'pw1'), signal)).kind).toBe('unavailable');
    // A rejection is never overridden by the cache.
    const { a: a2, backend: b2, advance: adv2 } = setup({ ttlMs: 1000, staleMs: 5000 });
    await a2.authenticate(req('alice', 'pw1'), signal);
    adv2(2000);
    b2.users['alice'] = 'changed';
    expect((await a2.authenticate(req('alice', 'pw1'), signal)).kind).toBe('rejected');
    // …and that refusal removes the entry, so the next outage cannot bring the old password back.
    b2.forced = down();
    expect((await a2.authenticate(req('alice', 'pw1'), signal)).kind).toBe('unavailable');
  });
});

describe('stale-on-outage and aborted requests', () => {
  it('a request that ended while its backend check ran gets no stale OK: closing the connection is no outage', async () => {
    const { a, backend } = await expiredEntry();
    const ctl = new AbortController();
    const cut = a.authenticate(req('alice', 'pw1'), ctl.signal);
    await tick();
    ctl.abort();
    backend.started[1]!.settle(unavailable('timeout', 'request ended before shadow was asked', 'NO'));
    expect(await cut).toMatchObject({ kind: 'unavailable', code: 'timeout' });
    // A real outage still answers from the entry.
    const outage = a.authenticate(req('alice', 'pw1'), signal);
    await tick();
    backend.started[2]!.settle(down());
    expect(await outage).toMatchObject({ kind: 'ok', log: { cached: true, stale: true } });
  });
});

describe('CredentialCache size and contents', () => {
  it('evicts the least recently used entry when full', async () => {
    const keyBytes = (login: string) => Buffer.byteLength(`shadow\0imap\0\0${login}`) + 32 + ENTRY_OVERHEAD_BYTES;
    const { a, backend, cache } = setup({ maxBytes: keyBytes('alice') + keyBytes('bob') });
    backend.users['eve'] = 'pwc';
    await a.authenticate(req('alice', 'pw1'), signal);
    await a.authenticate(req('bob', 'pwb'), signal);
    await a.authenticate(req('alice', 'pw1'), signal); // alice is now the most recently used
    expect(backend.calls).toHaveLength(2);
    await a.authenticate(req('eve', 'pwc'), signal);
    expect(cache.size).toBe(2);
    expect(cache.evictions).toBe(1);
    expect(cache.snapshot().map((e) => e.key.split('\0').at(-1))).toEqual(['alice', 'eve']);
    await a.authenticate(req('bob', 'pwb'), signal);
    expect(backend.calls.at(-1)?.login).toBe('bob');
    expect(cache.bytes).toBeLessThanOrEqual(keyBytes('alice') + keyBytes('bob'));
  });

  it('stores HMAC-SHA-256 under the start-up key: no password, no plain digest', async () => {
    const { a, cache, key } = setup();
    const pw = 'pw1';
    await a.authenticate(req('alice', pw), signal);
    const [entry] = cache.snapshot();
    expect(entry?.digest).toEqual(createHmac('sha256', key).update(pw).digest());
    for (const plain of ['md5', 'sha1', 'sha256', 'sha512']) {
      expect(entry?.digest.equals(createHash(plain).update(pw).digest())).toBe(false);
    }
    const dump = inspect(cache, { showHidden: true, depth: Infinity }) + JSON.stringify(cache.snapshot());
    expect(dump).not.toContain(pw);
    expect(dump).not.toContain(createHash('md5').update(pw).digest('hex'));
  });

  it('uses a different random key per instance by default', () => {
    const pw = Secret.fromString('same');
    const c1 = new CredentialCache({ ttlMs: 1, maxBytes: 1000, staleMs: 0 });
    const c2 = new CredentialCache({ ttlMs: 1, maxBytes: 1000, staleMs: 0 });
    expect(c1.digest(pw).equals(c2.digest(pw))).toBe(false);
    expect(c1.digest(pw)).toHaveLength(32);
  });
});

/** A fake backend that, like shadow and getpwent, can say what it refuses without the password. */
class CheckedBackend extends FakeAuthenticator {
  /** What the account check answers now (null: nothing to refuse). */
  account: Outcome | null = null;
  accountCalls = 0;
  readonly accountCheck = async (): Promise<Outcome | null> => {
    this.accountCalls++;
    if (this.account?.kind === 'unavailable' && this.account.reason === 'throw') throw new Error('nss exploded');
    return this.account;
  };
}

const locked = rejected('locked', 'account is locked (!)', 'NO Incorrect password');

function checkedSetup(o: { ttlMs?: number; staleMs?: number } = {}) {
  let t = 1000;
  const cache = new CredentialCache({ ttlMs: o.ttlMs ?? 60_000, maxBytes: 1 << 20, staleMs: o.staleMs ?? 0, now: () => t, hmacKey: Buffer.alloc(32, 7) });
  const backend = new CheckedBackend('shadow', { alice: 'pw1' });
  const a = new CacheAuthenticator(backend, cache, log);
  return { cache, backend, a, advance: (ms: number) => (t += ms) };
}

describe('account check on every hit (issue 11 item 7)', () => {
  it('asks the backend account check before answering from the cache', async () => {
    const { a, backend } = checkedSetup();
    await a.authenticate(req('alice', 'pw1'), signal);
    expect(backend.accountCalls).toBe(0); // a miss: the backend checked everything itself
    expect(await a.authenticate(req('alice', 'pw1'), signal)).toEqual({ kind: 'ok', compat: 'OK', log: { cached: true } });
    expect(backend.accountCalls).toBe(1);
    expect(backend.calls).toHaveLength(1);
  });

  it('a refused account is no hit: the backend decides (crypt and all), the entry is dropped', async () => {
    const { a, backend, cache } = checkedSetup();
    await a.authenticate(req('alice', 'pw1'), signal);
    backend.account = locked;
    backend.forced = locked; // what the real backend now answers for any password
    expect(await a.authenticate(req('alice', 'pw1'), signal)).toEqual({ ...locked, log: { recheck: 'locked' } });
    expect(backend.calls).toHaveLength(2);
    expect(cache.size).toBe(0);
    expect(cache.revoked).toBe(1);
    // Unlocked again: only the backend can say OK now, and its OK is cached afresh.
    backend.account = null;
    backend.forced = null;
    expect(await a.authenticate(req('alice', 'pw1'), signal)).toEqual({ kind: 'ok', compat: 'OK' });
    expect(backend.calls).toHaveLength(3);
    expect((await a.authenticate(req('alice', 'pw1'), signal)).log).toEqual({ cached: true });
  });

  it('a refused account cannot be answered from a stale entry during an outage either', async () => {
    const { a, backend, advance } = checkedSetup({ ttlMs: 1000, staleMs: 60_000 });
    await a.authenticate(req('alice', 'pw1'), signal);
    advance(2000);
    backend.account = rejected('unknown-user', 'no such user in passwd', 'NO Invalid username');
    backend.forced = down();
    expect(await a.authenticate(req('alice', 'pw1'), signal)).toMatchObject({ kind: 'unavailable', log: { recheck: 'unknown-user' } });
  });

  it('an account check that cannot decide, or throws, is no hit; the entry stays for the backend to confirm', async () => {
    const { a, backend, cache } = checkedSetup();
    await a.authenticate(req('alice', 'pw1'), signal);
    backend.account = unavailable('backend-error', 'cannot read user files', 'NO');
    expect(await a.authenticate(req('alice', 'pw1'), signal)).toEqual({ kind: 'ok', compat: 'OK', log: { recheck: 'backend-error' } });
    expect(backend.calls).toHaveLength(2);
    backend.account = unavailable('backend-error', 'throw', 'NO');
    backend.forced = down();
    expect(await a.authenticate(req('alice', 'pw1'), signal)).toMatchObject({ kind: 'unavailable', log: { recheck: 'backend-error' } });
    expect(cache.size).toBe(1);
    expect(cache.revoked).toBe(0);
  });

  it('never asks the account check for a password that does not match the entry', async () => {
    const { a, backend } = checkedSetup();
    await a.authenticate(req('alice', 'pw1'), signal);
    await a.authenticate(req('alice', 'guess'), signal);
    expect(backend.accountCalls).toBe(0);
  });

  it('behind a chain, asks the link that accepted (remembered with the entry), and passes no recheck on up', async () => {
    let t = 0;
    const cache = new CredentialCache({ ttlMs: 60_000, maxBytes: 1 << 20, staleMs: 0, now: () => t++ });
    const first = new CheckedBackend('shadow:a', {});
    const second = new CheckedBackend('shadow', { alice: 'pw1' });
    const chain = new ChainAuthenticator([
      { name: 'shadow:a', authenticator: first, continueOn: new Set(DEFAULT_CONTINUE_ON) },
      { name: 'shadow', authenticator: second, continueOn: new Set(DEFAULT_CONTINUE_ON) },
    ]);
    const a = new CacheAuthenticator(chain, cache, log, 'shadow:a,shadow');
    const accepted = await a.authenticate(req('alice', 'pw1'), signal);
    expect(accepted).toEqual({ kind: 'ok', compat: 'OK', log: { via: 'shadow' } });
    expect('recheck' in accepted).toBe(false);
    expect((await a.authenticate(req('alice', 'pw1'), signal)).log).toEqual({ cached: true });
    expect([first.accountCalls, second.accountCalls]).toEqual([0, 1]);
    second.account = locked;
    second.forced = locked;
    expect(await a.authenticate(req('alice', 'pw1'), signal)).toMatchObject({ kind: 'rejected', code: 'locked', log: { recheck: 'locked', via: 'shadow' } });
    expect(cache.size).toBe(0);
  });

  it('a backend without an account check (pam, ldap, rimap) answers from the cache for the whole TTL', async () => {
    const { a, backend } = setup();
    await a.authenticate(req('alice', 'pw1'), signal);
    backend.users['alice'] = 'changed';
    expect((await a.authenticate(req('alice', 'pw1'), signal)).log).toEqual({ cached: true });
  });
});

/** A backend whose checks stay open until the test settles them, in the order they started. */
class GatedBackend {
  readonly name = 'shadow';
  readonly started: { login: string; password: string; settle: (o: Outcome | Error) => void }[] = [];

  authenticate(r: AuthRequest): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      const settle = (o: Outcome | Error): void => (o instanceof Error ? reject(o) : resolve(o));
      this.started.push({ login: r.login, password: r.password.expose().toString('utf8'), settle });
    });
  }

  describe(): string[] {
    return ['gated'];
  }

  async close(): Promise<void> {}
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * A gated backend (with `accountCheck`, if given) whose success for alice/pw1 is cached and now past
 * -t but inside the stale-on-outage window: a miss that still runs the entry's account check.
 */
async function expiredEntry(accountCheck?: () => Promise<Outcome | null>) {
  let t = 0;
  const backend = new GatedBackend();
  if (accountCheck) Object.assign(backend, { accountCheck });
  const cache = new CredentialCache({ ttlMs: 1000, maxBytes: 1 << 20, staleMs: 60_000, now: () => t });
  const a = new CacheAuthenticator(backend, cache, log);
  const stored = a.authenticate(req('alice', 'pw1'), signal);
  await tick();
  backend.started[0]!.settle({ kind: 'ok', compat: 'OK' });
  await stored;
  t = 2000;
  return { a, backend };
}

describe('identical requests while one is being checked', () => {
  function gated() {
    const backend = new GatedBackend();
    const cache = new CredentialCache({ ttlMs: 60_000, maxBytes: 1 << 20, staleMs: 0 });
    return { backend, cache, a: new CacheAuthenticator(backend, cache, log) };
  }

  it('wait for that check: one backend call answers them all, the others logged coalesced', async () => {
    const { a, backend, cache } = gated();
    const answers = [1, 2, 3].map(() => a.authenticate(req('alice', 'pw1'), signal));
    await tick();
    expect(backend.started).toHaveLength(1);
    backend.started[0]!.settle({ kind: 'ok', compat: 'OK' });
    expect(await Promise.all(answers)).toEqual([
      { kind: 'ok', compat: 'OK' },
      { kind: 'ok', compat: 'OK', log: { coalesced: true } },
      { kind: 'ok', compat: 'OK', log: { coalesced: true } },
    ]);
    expect(cache.size).toBe(1);
    expect(cache.misses).toBe(3);
    // The check is over: the next one is a plain cache hit.
    expect((await a.authenticate(req('alice', 'pw1'), signal)).log).toEqual({ cached: true });
    expect(backend.started).toHaveLength(1);
  });

  it('share a NO too, and only for the very same password, service, realm and login', async () => {
    const { a, backend } = gated();
    const same = [a.authenticate(req('alice', 'guess'), signal), a.authenticate(req('alice', 'guess'), signal)];
    const others = [
      a.authenticate(req('alice', 'pw1'), signal),
      a.authenticate(req('alice', 'guess', 'smtp'), signal),
      a.authenticate(req('alice', 'guess', 'imap', 'example.org'), signal),
      a.authenticate(req('bob', 'guess'), signal),
    ];
    await tick();
    expect(backend.started.map((s) => `${s.login}/${s.password}`)).toEqual(['alice/guess', 'alice/pw1', 'alice/guess', 'alice/guess', 'bob/guess']);
    const no = rejected('bad-password', 'wrong password', 'NO');
    for (const [i, s] of backend.started.entries()) s.settle(i === 1 ? { kind: 'ok', compat: 'OK' } : no);
    expect(await Promise.all(same)).toEqual([no, { ...no, log: { coalesced: true } }]);
    expect((await Promise.all(others)).map((o) => [o.kind, o.log?.['coalesced'] ?? false])).toEqual([
      ['ok', false],
      ['rejected', false],
      ['rejected', false],
      ['rejected', false],
    ]);
  });

  it('do not join a check whose request was aborted: a stuck backend cannot hold later requests', async () => {
    const { a, backend } = gated();
    const ctl = new AbortController();
    void a.authenticate(req('alice', 'pw1'), ctl.signal);
    await tick();
    ctl.abort();
    const later = a.authenticate(req('alice', 'pw1'), signal);
    await tick();
    expect(backend.started).toHaveLength(2);
    backend.started[1]!.settle({ kind: 'ok', compat: 'OK' });
    expect(await later).toEqual({ kind: 'ok', compat: 'OK' });
  });

  it('do not take a verdict reached after the first request was aborted: they ask the backend themselves', async () => {
    const { a, backend } = gated();
    const ctl = new AbortController();
    const first = a.authenticate(req('alice', 'pw1'), ctl.signal);
    const waiting = a.authenticate(req('alice', 'pw1'), signal);
    await tick();
    ctl.abort();
    // A chain cut short by the abort, or a backend that ignores it, may still settle with a NO.
    backend.started[0]!.settle(rejected('unknown-user', 'unknown user', 'NO'));
    expect((await first).kind).toBe('rejected');
    await tick();
    expect(backend.started).toHaveLength(2);
    backend.started[1]!.settle({ kind: 'ok', compat: 'OK' });
    expect(await waiting).toEqual({ kind: 'ok', compat: 'OK' });
  });

  it('do not join anything once their own request is aborted, nor ask the backend after waiting', async () => {
    const { a, backend } = gated();
    const ctl = new AbortController();
    const first = a.authenticate(req('alice', 'pw1'), signal);
    const waiting = a.authenticate(req('alice', 'pw1'), ctl.signal);
    await tick();
    ctl.abort();
    backend.started[0]!.settle(unavailable('timeout', 'slow', 'NO'));
    await first;
    expect(await waiting).toMatchObject({ kind: 'unavailable', code: 'timeout' });
    expect(backend.started).toHaveLength(1);
  });

  it('do not join when the account check has just refused: a check begun before the lock may say OK', async () => {
    let locked = false;
    const { a, backend } = await expiredEntry(async () => (locked ? rejected('locked', 'account is locked (!)', 'NO') : null));
    const before = a.authenticate(req('alice', 'pw1'), signal);
    await tick();
    expect(backend.started).toHaveLength(2);
    locked = true;
    const after = a.authenticate(req('alice', 'pw1'), signal);
    await tick();
    expect(backend.started).toHaveLength(3);
    backend.started[1]!.settle({ kind: 'ok', compat: 'OK' });
    backend.started[2]!.settle(rejected('locked', 'account is locked (!)', 'NO'));
    expect((await before).kind).toBe('ok');
    expect(await after).toMatchObject({ kind: 'rejected', code: 'locked', log: { recheck: 'locked' } });
  });

  it('stop waiting as soon as the first request is aborted, even if its check never settles', async () => {
    const { a, backend } = gated();
    const ctl = new AbortController();
    void a.authenticate(req('alice', 'pw1'), ctl.signal);
    const waiting = a.authenticate(req('alice', 'pw1'), signal);
    await tick();
    ctl.abort(); // backend.started[0] is never settled
    await tick();
    expect(backend.started).toHaveLength(2);
    backend.started[1]!.settle({ kind: 'ok', compat: 'OK' });
    expect(await waiting).toEqual({ kind: 'ok', compat: 'OK' });
  });

  it('never start a shared check for a request already aborted', async () => {
    const { a, backend } = gated();
    const ctl = new AbortController();
    ctl.abort();
    void a.authenticate(req('alice', 'pw1'), ctl.signal);
    const live = a.authenticate(req('alice', 'pw1'), signal);
    await tick();
    expect(backend.started).toHaveLength(2);
    backend.started[1]!.settle({ kind: 'ok', compat: 'OK' });
    expect(await live).toEqual({ kind: 'ok', compat: 'OK' });
  });

  it('ask the backend themselves when that check ends unavailable or throws', async () => {
    for (const failure of [unavailable('timeout', 'deadline passed', 'NO'), new Error('backend bug')]) {
      const { a, backend } = gated();
      const first = a.authenticate(req('alice', 'pw1'), signal);
      const waiting = [a.authenticate(req('alice', 'pw1'), signal), a.authenticate(req('alice', 'pw1'), signal)];
      await tick();
      expect(backend.started).toHaveLength(1);
      backend.started[0]!.settle(failure);
      if (failure instanceof Error) await expect(first).rejects.toThrow('backend bug');
      else expect(await first).toEqual(failure);
      await tick();
      expect(backend.started).toHaveLength(3);
      backend.started[1]!.settle({ kind: 'ok', compat: 'OK' });
      backend.started[2]!.settle(rejected('bad-password', 'wrong password', 'NO'));
      expect((await Promise.all(waiting)).map((o) => [o.kind, o.log?.['coalesced'] ?? false])).toEqual([
        ['ok', false],
        ['rejected', false],
      ]);
    }
  });
});
