import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { type AuthRequest, type Authenticator, type Outcome, ok } from '../../src/auth/authenticator.js';
import type { BackendDefinition } from '../../src/auth/backends/definition.js';
import { type CompositionOptions, buildAuthenticator } from '../../src/auth/compose.js';
import { Secret } from '../../src/auth/secret.js';
import { Crypt } from '../../src/native/crypt.js';
import { PoolFullError } from '../../src/native/pool.js';

// issue 12 item 3: describe() and close() go down the wrapper tree (request policy → penalty →
// routing → cache → chain → backend), a backend shared by several chains and routes closes once,
// and a full native pool is an outcome inside auth, not an exception the server has to recognise.

const log = pino({ level: 'silent' });

interface FakeOptions {
  readonly label: string;
}

/** A fake backend type: every instance counts its close() calls under its -O label. */
function fakeDefinition(closes: Map<string, number>, behaviour: (label: string) => Promise<Outcome>): BackendDefinition<FakeOptions> {
  return {
    name: 'fake',
    mechOption: 'label',
    flags: [],
    options: (_v, shared) => ({ label: shared.mechOption ?? 'main' }),
    create: async (o): Promise<Authenticator> => ({
      name: 'fake',
      authenticate: () => behaviour(o.label),
      describe: () => [`fake backend ${o.label}`],
      close: async () => {
        closes.set(o.label, (closes.get(o.label) ?? 0) + 1);
      },
    }),
  };
}

const base: CompositionOptions = {
  chain: ['fake', 'fake:b'],
  mechOption: null,
  concurrency: 2,
  backendFlags: {},
  backendOverrides: { 'fake:b': { 'mech-option': 'b' } },
  routes: [
    { on: 'service', value: 'smtp', chain: ['fake:b'] },
    { on: 'realm', value: 'example.org', chain: ['fake', 'fake:b'] },
    { on: 'service', value: 'imap', chain: ['fake'] },
  ],
  chainContinueOn: {},
  cache: true,
  cacheSizeKiB: 64,
  cacheTtlSec: 60,
  cacheStaleOnOutageSec: 0,
  failDelayMs: 2000,
  penaltyMaxMs: 15000,
  trustedAddrs: [],
  penaltyScope: 'both',
  penaltyMaxHeld: 4,
  penaltyMaxTracked: 100,
  realmConcat: true,
  allowedRealms: [],
  authTimeoutMs: 30000,
};

const req = (service = 'pop3'): AuthRequest => ({ login: 'sat_ac_ann', password: Secret.fromString('pw'), service, realm: '', clientAddr: null });

describe('the composed wrapper tree', () => {
  it('closes each backend exactly once, however many chains and routes share it', async () => {
    const closes = new Map<string, number>();
    const fake = fakeDefinition(closes, async () => ok());
    const a = await buildAuthenticator(base, { crypt: new Crypt(1), log, definition: () => fake as BackendDefinition });
    expect((await a.authenticate(req('smtp'), new AbortController().signal)).kind).toBe('ok');
    await a.close();
    await a.close();
    expect(Object.fromEntries(closes)).toEqual({ main: 1, b: 1 });
  });

  it('describes itself top down, each wrapper in its own words, each backend once', async () => {
    const fake = fakeDefinition(new Map(), async () => ok());
    const a = await buildAuthenticator(base, { crypt: new Crypt(1), log, definition: () => fake as BackendDefinition });
    try {
      expect(a.describe()).toEqual([
        'chain (-a): fake [next on: unknown, unavailable] -> fake:b',
        'route service:smtp: fake:b',
        'route realm:example.org: fake [next on: unknown, unavailable] -> fake:b',
        'route service:imap: fake',
        '[fake] fake backend main',
        '[fake:b] fake backend b',
        'fail delay: 2000 ms (+0..25% jitter), doubles per consecutive failure of a user or client address up to 15000 ms; one check at a time per penalised key, at most 4 held, 100 remembered',
        'request policy: login@realm (-r); any realm or login domain',
        'backend fake:b: mech-option=b',
        'cache: on, in memory, ttl 60 s, 64 KiB (~292 entries), HMAC-SHA-256 with a per-start key, stale-on-outage off',
      ]);
    } finally {
      await a.close();
    }
  });

  it('a full native work queue is the outcome unavailable/overloaded, answered at once (no fail delay)', async () => {
    const fake = fakeDefinition(new Map(), async () => {
      throw new PoolFullError(3);
    });
    const a = await buildAuthenticator({ ...base, chain: ['fake'], routes: [], backendOverrides: {} }, { crypt: new Crypt(1), log, definition: () => fake as BackendDefinition });
    try {
      const started = performance.now();
      expect(await a.authenticate(req(), new AbortController().signal)).toEqual({
        kind: 'unavailable',
        code: 'overloaded',
        reason: 'native work queue is full (3 waiting)',
        compat: 'NO internal mechanism failure',
      });
      expect(performance.now() - started).toBeLessThan(500);
    } finally {
      await a.close();
    }
  });
});
