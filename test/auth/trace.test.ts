import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { AuthRequest, Authenticator } from '../../src/auth/authenticator.js';
import type { BackendDefinition } from '../../src/auth/backends/definition.js';
import { buildAuthenticator } from '../../src/auth/compose.js';
import { parseDaemonArgs } from '../../src/cli/daemon-args.js';
import { Crypt } from '../../src/native/crypt.js';
import { FakeAuthenticator, down, req } from '../fixtures/fake-authenticator.js';

const log = pino({ level: 'silent' });
const signal = new AbortController().signal;

/** `-a fake…` with every instance a FakeAuthenticator: ann is only in `fake:b`; `fake:down` is unavailable. */
async function composed(args: string[]): Promise<Authenticator> {
  const c = parseDaemonArgs(['-a', 'shadow', '--fail-delay', '0', ...args]);
  if (c.kind !== 'run') throw new Error('not run');
  const def: BackendDefinition = {
    name: 'fake',
    flags: [],
    options: (_v, shared) => shared.mechOption,
    async create(o) {
      const a = new FakeAuthenticator(String(o), o === 'b' ? { ann: 'pw' } : {});
      if (o === 'down') a.forced = down();
      return a;
    },
  };
  // The chain names are rimap instances (rimap reads -O) (the CLI knows no "fake"); each gets its own -O through --link-option.
  return buildAuthenticator(c.options, { crypt: new Crypt(1), log, definition: () => def });
}

const traced = (r: AuthRequest): { r: AuthRequest; lines: string[] } => {
  const lines: string[] = [];
  return { r: { ...r, trace: (who, text) => lines.push(`${who}: ${text}`) }, lines };
};

describe('the trace hook (--test)', () => {
  it('shows what -r did, the route, each backend with what it received, and why the chain went on', async () => {
    const a = await composed(['-a', 'rimap:a,rimap:b', '--link-option', 'rimap:a.o=a', '--link-option', 'rimap:b.o=b', '-r']);
    const { r, lines } = traced(req('ann', 'pw', 'smtp', 'example.org'));
    const o = await a.authenticate(r, signal);
    expect(o.kind).toBe('rejected');
    expect(lines.map((l) => l.replace(/\(\d+\.\d ms\)$/, '(T)'))).toEqual([
      "request: login 'ann', realm 'example.org', service 'smtp': backends receive login 'ann@example.org' (-r: realm appended as login@realm)",
      'route: chain (-a) rimap:a,rimap:b',
      "rimap:a: received login 'ann@example.org', realm 'example.org', service 'smtp'",
      'rimap:a: rejected (unknown-user): unknown user (T)',
      'chain: rimap:a rejected (unknown-user): asking the next backend',
      "rimap:b: received login 'ann@example.org', realm 'example.org', service 'smtp'",
      'rimap:b: rejected (unknown-user): unknown user (T)',
    ]);
    await a.close();
  });

  it('a route that matches, and a chain that stops on a wrong password', async () => {
    const a = await composed(['-a', 'rimap:a', '--route', 'smtp=rimap:b,rimap:down', '--link-option', 'rimap:a.o=a', '--link-option', 'rimap:b.o=b', '--link-option', 'rimap:down.o=down']);
    const { r, lines } = traced(req('ann', 'wrong', 'smtp'));
    expect((await a.authenticate(r, signal)).kind).toBe('rejected');
    expect(lines.slice(1, 5).map((l) => l.replace(/\(\d+\.\d ms\)$/, '(T)'))).toEqual([
      'route: --route service:smtp matched: chain rimap:b,rimap:down',
      "rimap:b: received login 'ann', realm '', service 'smtp'",
      'rimap:b: rejected (bad-password): wrong password (T)',
      'chain: rimap:b rejected (bad-password): the chain stops here (next on: unknown, unavailable)',
    ]);
    await a.close();
  });

  it('a request without a trace gets the same outcome, and nothing calls a trace', async () => {
    const a = await composed(['-a', 'rimap:down,rimap:b', '--link-option', 'rimap:down.o=down', '--link-option', 'rimap:b.o=b']);
    const plain = await a.authenticate(req('ann', 'pw'), signal);
    const { r, lines } = traced(req('ann', 'pw'));
    expect(await a.authenticate(r, signal)).toEqual(plain);
    expect(plain.kind).toBe('ok');
    expect(lines.length).toBeGreaterThan(0);
    await a.close();
  });
});
