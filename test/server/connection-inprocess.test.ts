import { mkdtempSync, rmSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthRequest, Outcome } from '../../src/auth/authenticator.js';
import type { Abortable } from '../../src/auth/request-signal.js';
import { encodeRequest } from '../../src/protocol/index.js';
import { RequestHandler } from '../../src/server/request-handler.js';
import { Server, type ServerOptions } from '../../src/server/server.js';
import { FakeAuthenticator } from '../fixtures/fake-authenticator.js';
import { type RawClient, rawConnect } from '../fixtures/raw-socket.js';

// The protocol edge cases of Connection/Server, in process: a real UNIX socket under /tmp, a
// scripted authenticator, no root and no daemon. test/server/bad-input.test.ts and
// hostile-clients.test.ts check the same cases against the real process.

const OK = Buffer.from('\x00\x02OK', 'latin1');
const NO = Buffer.from('\x00\x18NO authentication failed', 'latin1');
const V4 = encodeRequest(['alice', 'right', 'imap', '']);
const V5 = encodeRequest(['alice', 'right', 'imap', '', '192.0.2.7']);

/** The fake backend, recording the client address and abort signal each request arrived with. */
class Recording extends FakeAuthenticator {
  readonly addrs: (string | null)[] = [];
  readonly signals: Abortable[] = [];
  /** While set, requests wait for it (a slow backend). */
  gate: Promise<void> | null = null;

  override async authenticate(req: AuthRequest, signal?: Abortable): Promise<Outcome> {
    this.addrs.push(req.clientAddr);
    if (signal) this.signals.push(signal);
    if (this.gate) await this.gate;
    return super.authenticate(req);
  }
}

interface Harness {
  readonly server: Server;
  readonly path: string;
  readonly auth: Recording;
  /** Log messages so far. */
  readonly logs: string[];
}

const DEFAULTS: ServerOptions = {
  requestTimeoutMs: 5_000,
  drainTimeoutMs: 2_000,
  fifthFieldGraceMs: 20,
  maxConnections: 1024,
};

let dirs: string[] = [];
let servers: Server[] = [];
let clients: RawClient[] = [];

afterEach(async () => {
  for (const c of clients) c.socket.destroy();
  await Promise.all(servers.map((s) => s.close(100)));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
  servers = [];
  clients = [];
});

/** `compatReplies` is the handler's: every reply, the too-long one included, comes from its one mapping. */
async function start(options: Partial<ServerOptions> & { readonly compatReplies?: boolean } = {}): Promise<Harness> {
  const dir = mkdtempSync('/tmp/sat_conn-');
  dirs.push(dir);
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => logs.push((JSON.parse(line) as { msg: string }).msg) });
  const auth = new Recording('fake', { alice: 'right' });
  const { compatReplies = false, ...rest } = options;
  const opts = { ...DEFAULTS, ...rest };
  const handler = new RequestHandler(auth, { compatReplies, authTimeoutMs: 5_000 }, log);
  const server = new Server(handler, opts, log);
  servers.push(server);
  const path = join(dir, 'mux');
  await server.listen(path);
  return { server, path, auth, logs };
}

async function client(path: string): Promise<RawClient> {
  const c = await rawConnect(path);
  clients.push(c);
  return c;
}

/** A client that never closes its side by itself (rawConnect answers the server's FIN with its own). */
async function stubborn(path: string): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<Buffer> }> {
  const socket = connect({ path, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  // Resolves when the server has finished sending (its FIN); whether it also closed is seen on the server.
  const closed = new Promise<Buffer>((res) => {
    socket.on('end', () => res(Buffer.concat(chunks)));
    socket.on('close', () => res(Buffer.concat(chunks)));
  });
  await new Promise<void>((res, rej) => {
    socket.once('connect', () => res());
    socket.once('error', rej);
  });
  clients.push({ socket, write: () => undefined, received: () => Buffer.concat(chunks), closed });
  return { socket, received: () => Buffer.concat(chunks), closed };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves with what `p` resolved to and how long it took, or rejects after `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    const value = await Promise.race([p, late]);
    return { value, ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

async function until(cond: () => boolean, what: string, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('Connection in process: framing', () => {
  it('answers a request that arrives one byte per write', async () => {
    const h = await start();
    const c = await client(h.path);
    for (const b of V4) {
      c.write(Buffer.from([b]));
      await sleep(1);
    }
    c.socket.end();
    expect((await within(c.closed, 2_000, 'reply')).value).toEqual(OK);
    expect(h.auth.calls).toEqual([{ login: 'alice', service: 'imap', realm: '' }]);
  });

  it('answers a request split at every possible byte into two writes, the same each time', async () => {
    const h = await start();
    for (let cut = 1; cut < V4.length; cut++) {
      const c = await client(h.path);
      c.write(V4.subarray(0, cut));
      await sleep(1);
      c.write(V4.subarray(cut));
      c.socket.end();
      expect((await within(c.closed, 2_000, `reply at cut ${cut}`)).value).toEqual(OK);
    }
    expect(h.auth.calls).toHaveLength(V4.length - 1);
  });

  it('answers a wrong password with the uniform NO', async () => {
    const h = await start();
    const c = await client(h.path);
    c.write(encodeRequest(['alice', 'wrong', 'imap', '']));
    c.socket.end();
    expect((await within(c.closed, 2_000, 'reply')).value).toEqual(NO);
  });

  it('answers an oversized field with saslauthd\'s bare "NO " (compat) without asking the backend', async () => {
    const h = await start({ compatReplies: true });
    const c = await client(h.path);
    c.write(encodeRequest(['a'.repeat(300), 'right', 'imap', '']));
    expect((await within(c.closed, 2_000, 'reply')).value).toEqual(Buffer.from('\x00\x03NO ', 'latin1'));
    expect(h.auth.calls).toEqual([]);
    expect(h.logs).toContain('login exceeded MAX_REQ_LEN: 256');
  });
});

describe('Connection in process: the fifth field', () => {
  it('answers a v4 request that ends on a field boundary at once, without waiting for a fifth field', async () => {
    const h = await start({ fifthFieldGraceMs: 5_000 });
    const c = await client(h.path);
    c.write(V4);
    const r = await within(until(() => c.received().length >= OK.length, 'reply'), 2_000, 'reply');
    expect(c.received()).toEqual(OK);
    expect(r.ms).toBeLessThan(1_000);
    expect(h.auth.addrs).toEqual([null]);
  });

  it('waits out the grace for the rest of a fifth field that has started, then uses it', async () => {
    const h = await start({ fifthFieldGraceMs: 500 });
    const c = await client(h.path);
    c.write(V5.subarray(0, V4.length + 3));
    await sleep(100);
    expect(c.received()).toEqual(Buffer.alloc(0));
    c.write(V5.subarray(V4.length + 3));
    c.socket.end();
    expect((await within(c.closed, 2_000, 'reply')).value).toEqual(OK);
    expect(h.auth.addrs).toEqual(['192.0.2.7']);
  });

  it('answers as v4 once the grace passes with the fifth field still partial, never hanging on it', async () => {
    const h = await start({ fifthFieldGraceMs: 100 });
    const c = await client(h.path);
    const started = performance.now();
    c.write(V5.subarray(0, V4.length + 1));
    await within(until(() => c.received().length >= OK.length, 'reply'), 2_000, 'reply');
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    expect(c.received()).toEqual(OK);
    expect(h.auth.addrs).toEqual([null]);
  });

  it('answers at once when the fifth field arrives whole with the request', async () => {
    const h = await start({ fifthFieldGraceMs: 5_000 });
    const c = await client(h.path);
    c.write(V5);
    const r = await within(until(() => c.received().length >= OK.length, 'reply'), 2_000, 'reply');
    expect(c.received()).toEqual(OK);
    expect(r.ms).toBeLessThan(1_000);
    expect(h.auth.addrs).toEqual(['192.0.2.7']);
  });
});

describe('Connection in process: closing', () => {
  it('answers a client that half-closes right after its request, then closes', async () => {
    const h = await start();
    const c = await client(h.path);
    c.write(V4);
    c.socket.end();
    expect((await within(c.closed, 2_000, 'reply')).value).toEqual(OK);
    await until(() => h.server.connectionCount === 0, 'connection gone');
  });

  it('closes without a reply, and without asking the backend, when the client half-closes mid-frame', async () => {
    const h = await start();
    const c = await client(h.path);
    c.write(V4.subarray(0, 9));
    c.socket.end();
    expect((await within(c.closed, 2_000, 'close')).value).toEqual(Buffer.alloc(0));
    expect(h.auth.calls).toEqual([]);
    expect(h.logs).toContain('client closed before sending a whole request');
  });

  it('closes a connection with no whole request at the request timeout, without a reply', async () => {
    const h = await start({ requestTimeoutMs: 150 });
    const c = await client(h.path);
    c.write(V4.subarray(0, 9));
    const r = await within(c.closed, 3_000, 'close');
    expect(r.value).toEqual(Buffer.alloc(0));
    expect(r.ms).toBeGreaterThanOrEqual(100);
    expect(h.auth.calls).toEqual([]);
    expect(h.logs).toContain('no whole request in time; closing');
  });

  it('cuts a client that never closes after its reply at the drain deadline', async () => {
    const h = await start({ drainTimeoutMs: 150 });
    const c = await stubborn(h.path);
    const started = performance.now();
    c.socket.write(V5);
    expect((await within(c.closed, 3_000, 'reply and half-close')).value).toEqual(OK);
    expect(h.server.connectionCount).toBe(1);
    await until(() => h.server.connectionCount === 0, 'connection gone', 3_000);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('frees the slot of a client that vanished while its request was decided, and keeps serving', async () => {
    const h = await start();
    let open!: () => void;
    h.auth.gate = new Promise((r) => (open = r));
    const c = await stubborn(h.path);
    c.socket.write(V5);
    await until(() => h.auth.signals.length === 1, 'request reaches the backend');
    c.socket.destroy();
    await sleep(20);
    open();
    await until(() => h.server.connectionCount === 0, 'connection gone');
    expect(h.auth.calls).toHaveLength(1);
    const next = await client(h.path);
    next.write(V4);
    next.socket.end();
    expect((await within(next.closed, 2_000, 'reply')).value).toEqual(OK);
  });

  it('aborts the backend call when the connection is cut while its request is decided', async () => {
    const h = await start();
    let open!: () => void;
    h.auth.gate = new Promise((r) => (open = r));
    const c = await stubborn(h.path);
    c.socket.write(V5);
    await until(() => h.auth.signals.length === 1, 'request reaches the backend');
    expect(h.auth.signals[0]!.aborted).toBe(false);
    // The shutdown deadline passing is what cuts a connection mid-request.
    const closing = h.server.close(50);
    expect((await within(c.closed, 2_000, 'cut')).value).toEqual(Buffer.alloc(0));
    await until(() => h.auth.signals[0]!.aborted, 'abort signal');
    expect(h.logs).toContain('client closed while its request was being decided');
    open();
    await closing;
  });

  it('stops draining a client that keeps sending after its request, well before the drain deadline', async () => {
    const h = await start({ drainTimeoutMs: 10_000 });
    const c = await stubborn(h.path);
    c.socket.write(V5);
    await until(() => c.received().length >= OK.length, 'reply');
    const junk = Buffer.alloc(4096, 0x41);
    const started = performance.now();
    let sent = 0;
    while (!c.socket.destroyed && h.server.connectionCount > 0 && sent < 1024 * 1024 && performance.now() - started < 3_000) {
      c.socket.write(junk);
      sent += junk.length;
      await sleep(1);
    }
    await until(() => h.server.connectionCount === 0, 'connection cut', 3_000);
    expect(c.received()).toEqual(OK);
    expect(performance.now() - started).toBeLessThan(3_000);
    // Cut after a bit more than the 16 KiB it reads and discards, not after the megabyte.
    expect(sent).toBeLessThan(1024 * 1024);
    expect(h.logs).toContain('client kept sending after its request; closing');
  });
});

describe('Server in process: the connection cap', () => {
  it('evicts the oldest connection still waiting for its request, so a new client is served', async () => {
    const h = await start({ maxConnections: 2 });
    const first = await client(h.path);
    await until(() => h.server.connectionCount === 1, 'first accepted');
    const second = await client(h.path);
    await until(() => h.server.connectionCount === 2, 'second accepted');
    const third = await client(h.path);
    expect((await within(first.closed, 2_000, 'eviction')).value).toEqual(Buffer.alloc(0));
    third.write(V4);
    third.socket.end();
    expect((await within(third.closed, 2_000, 'reply')).value).toEqual(OK);
    expect(second.socket.destroyed).toBe(false);
    expect(h.server.stats.dropped).toBe(1);
    expect(h.logs).toContain('closing connection without a request: connection limit 2 reached');
  });

  it('refuses a new client when every slot is authenticating, and never cuts one being decided', async () => {
    const h = await start({ maxConnections: 2 });
    let open!: () => void;
    h.auth.gate = new Promise((r) => (open = r));
    const busy = [await client(h.path), await client(h.path)];
    for (const b of busy) b.write(V5);
    await until(() => h.auth.signals.length === 2, 'both requests at the backend');
    const late = await client(h.path);
    expect((await within(late.closed, 2_000, 'refusal')).value).toEqual(Buffer.alloc(0));
    expect(h.server.stats.refused).toBe(1);
    open();
    for (const b of busy) {
      b.socket.end();
      expect((await within(b.closed, 2_000, 'reply')).value).toEqual(OK);
    }
  });

  it('close() drops connections still reading and lets a request being decided get its answer', async () => {
    const h = await start();
    let open!: () => void;
    h.auth.gate = new Promise((r) => (open = r));
    const idle = await client(h.path);
    const busy = await client(h.path);
    busy.write(V5);
    await until(() => h.auth.signals.length === 1, 'request at the backend');
    const closing = h.server.close(2_000);
    expect((await within(idle.closed, 2_000, 'idle dropped')).value).toEqual(Buffer.alloc(0));
    open();
    busy.socket.end();
    expect((await within(busy.closed, 2_000, 'reply')).value).toEqual(OK);
    await within(closing, 3_000, 'close()');
  });
});
