import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ShadowAuthenticator } from '../../src/auth/backends/shadow/shadow.js';
import { SharedBackend } from '../../src/auth/shared-backend.js';
import { runLoad } from '../fixtures/load.js';
import { Crypt } from '../../src/native/crypt.js';
import { encodeRequest, RequestDecoder, type RawRequest } from '../../src/protocol/index.js';
import { RequestHandler } from '../../src/server/request-handler.js';
import { UNIFORM_FAILURE } from '../../src/server/reply-text.js';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { type FixtureFiles, writeFixture } from '../fixtures/fixture-users.js';
import { run } from '../fixtures/run.js';

// Slow hashes (bcrypt, yescrypt) saturate the native pool. Queued requests must still get the
// right answers, and once the queue bound is reached the rest must get NO at once, not pile up.

const BC = { name: 'sat_rel_pool_bc', password: 'Pool bcrypt 1' };
const YC = { name: 'sat_rel_pool_yc', password: 'Pool yescrypt 2' };
let fx: FixtureFiles;

beforeAll(async () => {
  const bcrypt = (await run('mkpasswd', ['-m', 'bcrypt', '-R', '9', '--stdin'], { input: BC.password })).stdout.trim();
  fx = await writeFixture([
    { name: BC.name, password: BC.password, method: { literal: bcrypt } },
    { name: YC.name, password: YC.password, method: 'yescrypt' },
  ]);
});
afterAll(() => fx?.remove());

function raw(login: string, password: string): RawRequest {
  const r = new RequestDecoder().push(encodeRequest([login, password, 'imap', '']));
  if (r.kind !== 'request') throw new Error('bad fixture request');
  return r.request;
}

describe('native pool saturation', () => {
  it('over the socket with -n 1: 64 clients queue bcrypt/yescrypt checks and every answer is right', async () => {
    const d: RunningDaemon = await startOurs(['-a', 'shadow', '--passwd-file', fx.passwd, '--shadow-file', fx.shadow, '-n', '1']);
    try {
      const probes = [
        { request: { login: BC.name, password: BC.password, service: 'imap', realm: '' }, expect: 'OK' as const },
        { request: { login: BC.name, password: 'nope', service: 'imap', realm: '' }, expect: 'NO' as const },
        { request: { login: YC.name, password: YC.password, service: 'imap', realm: '' }, expect: 'OK' as const },
        { request: { login: YC.name, password: 'nope', service: 'imap', realm: '' }, expect: 'NO' as const },
      ];
      const r = await runLoad(d.socket, probes, { concurrency: 64, count: 128, seconds: 600 });
      expect({ requests: r.requests, errors: r.errors, wrong: r.wrong }).toEqual({ requests: 128, errors: 0, wrong: 0 });
    } finally {
      await d.stop();
    }
  }, 300_000);

  it('past the queue bound, requests are answered NO before any queued one finishes, and logged as overloaded', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const crypt = new Crypt(1, 4); // one running, four waiting
    const shadow = new ShadowAuthenticator({ passwdFile: fx.passwd, shadowFile: fx.shadow }, crypt, log);
    // As composed in the daemon: auth turns the full queue into the outcome unavailable/overloaded.
    const handler = new RequestHandler(new SharedBackend('shadow', shadow, false), { compatReplies: false, authTimeoutMs: 60_000 }, log);
    const order: Array<{ i: number; text: string }> = [];
    const all = Array.from({ length: 20 }, (_, i) =>
      handler.handle(raw(BC.name, i % 2 === 0 ? BC.password : 'wrong'), { id: i }, new AbortController()).then((text) => order.push({ i, text })));
    await Promise.all(all);
    // The first five were admitted (1 running + 4 queued) and decided correctly…
    const admitted = order.filter((o) => o.i < 5).sort((a, b) => a.i - b.i).map((o) => o.text);
    expect(admitted).toEqual(['OK', UNIFORM_FAILURE, 'OK', UNIFORM_FAILURE, 'OK']);
    // …the other fifteen got NO, and all of them before the first bcrypt check finished.
    const refused = order.filter((o) => o.i >= 5);
    expect(refused.map((o) => o.text)).toEqual(Array(15).fill(UNIFORM_FAILURE));
    expect(order.slice(0, 15).every((o) => o.i >= 5)).toBe(true);
    expect(lines.filter((l) => l.includes('"code":"overloaded"')).length).toBe(15);
  });
});
