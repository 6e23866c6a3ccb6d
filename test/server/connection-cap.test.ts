import { mkdtempSync, rmSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest } from '../../src/protocol/index.js';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { eventually, type UserFiles, userFiles } from '../fixtures/user-files.js';
import { verdict } from '../fixtures/testsaslauthd.js';

// Which connection makes room at --max-connections (issue 11 item 12). A bot cycling connections
// through fast NOs keeps most slots answered-but-not-yet-closed-by-the-client; those must give way to
// a new client (Debian's testsaslauthd here), while a request still being decided never does.

const USER = 'sat_cap_u1';
const PASSWORD = 'cap right pw';
const OTHER = 'sat_cap_u2';
const OTHER_PASSWORD = 'cap other pw';
const CAP = 4;
const NO = (() => {
  const text = 'NO authentication failed';
  const b = Buffer.alloc(2 + text.length);
  b.writeUInt16BE(text.length, 0);
  b.write(text, 2, 'latin1');
  return b;
})();

let tmp: string;
let files: UserFiles;
let d: RunningDaemon | undefined;
const open: Socket[] = [];

interface Client {
  readonly socket: Socket;
  readonly received: () => Buffer;
  /** Resolves when the daemon has closed its side. */
  readonly closed: Promise<void>;
  readonly connected: Promise<void>;
}

/** A client that never closes its side and sends nothing until told to. */
function client(socket: string): Client {
  const s = connect({ path: socket, allowHalfOpen: true });
  open.push(s);
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.on('error', () => {});
  // allowHalfOpen: the daemon's close shows as 'end' here ('close' would wait for our own end).
  const closed = new Promise<void>((r) => s.once('end', () => r()));
  const connected = new Promise<void>((r) => s.once('connect', () => r()));
  return { socket: s, received: () => Buffer.concat(chunks), closed, connected };
}

/** Sends a wrong password and then never closes its side: the daemon's reply waits for the drain timeout. */
function lingerer(socket: string): Client {
  const c = client(socket);
  void c.connected.then(() => c.socket.write(encodeRequest([USER, 'wrong pw', 'smtp', ''])));
  return c;
}

/** Connected, nothing sent yet: a client between connect() and its write. */
async function quiet(socket: string): Promise<Client> {
  const c = client(socket);
  await c.connected;
  return c;
}

beforeAll(async () => {
  tmp = mkdtempSync('/tmp/sat_cap-');
  files = await userFiles(join(tmp, 'users'), { [USER]: PASSWORD, [OTHER]: OTHER_PASSWORD });
});
afterEach(async () => {
  for (const s of open.splice(0)) s.destroy();
  await d?.stop();
  d = undefined;
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const start = (extra: string[]): Promise<RunningDaemon> =>
  startOurs(['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--max-connections', String(CAP), '--drain-timeout', '30000', '-V', ...extra]);

describe('connection cap: what makes room for a new client', () => {
  it('answered connections whose client has not closed yet give way to a new client, with their reply intact', async () => {
    d = await start(['--fail-delay', '0']);
    const held = Array.from({ length: CAP }, () => lingerer(d!.socket));
    await eventually(() => held.every((h) => h.received().length >= NO.length), 'every lingering client to get its NO', 10_000);
    // Every slot is taken by a connection that has its answer and only waits for its client.
    expect(await verdict(d.socket, USER, PASSWORD)).toBe('OK');
    // The oldest answered one made room, and nothing but its reply was ever sent on it.
    await held[0]!.closed;
    for (const h of held) expect(h.received()).toEqual(NO);
    expect(d.output()).toContain('closing answered connection: connection limit 4 reached');
  }, 30_000);

  it('a request still being decided (held for its failure delay) is never dropped; the newcomer is refused instead', async () => {
    d = await start(['--fail-delay', '4000', '--penalty-max', '4000']);
    const t0 = performance.now();
    const held = Array.from({ length: CAP }, () => lingerer(d!.socket));
    // 'authenticating' is logged as a request is handed to the penalty, whose NO then waits 4000 ms.
    await eventually(() => (d!.output().match(/DEBUG authenticating conn=\d+ user=sat_cap_u1/g) ?? []).length === CAP, 'four requests being decided', 10_000);
    // All four wait for their NO (4000 ms after arrival): a newcomer finds no slot it may take.
    const refused = await verdict(d.socket, USER, PASSWORD).catch((e: Error) => e.message);
    expect(performance.now() - t0).toBeLessThan(4000);
    // Closed unanswered: testsaslauthd reads EOF ('size read failed'), or dies of SIGPIPE (code null)
    // when the close comes before its write.
    expect(refused).toMatch(/size read failed|code=null stdout="" /);
    expect(d.output()).toContain('every slot is busy with a request, a reply going out or a client just connected');
    await eventually(() => held.every((h) => h.received().length >= NO.length), 'the held requests to get their NO', 10_000);
    for (const h of held) expect(h.received()).toEqual(NO);
  }, 30_000);

  it('a client that has only just connected keeps its slot: the newcomer is refused; an older silent one is evicted', async () => {
    d = await start(['--fail-delay', '4000', '--penalty-max', '4000']);
    const held = Array.from({ length: CAP - 1 }, () => lingerer(d!.socket));
    await eventually(() => (d!.output().match(/DEBUG authenticating conn=\d+ user=sat_cap_u1/g) ?? []).length === CAP - 1, 'three requests being decided', 10_000);
    // The last slot goes to a client that has connected and not written yet; the next one arrives
    // at once. Before, the newcomer evicted it: under a flood a real user lost its connection to a bot.
    const fresh = await quiet(d.socket);
    const newcomer = await quiet(d.socket);
    await newcomer.closed;
    expect(newcomer.received()).toEqual(Buffer.alloc(0));
    await eventually(() => d!.output().includes('a client just connected; closing new connection'), 'the refusal to be logged', 5_000);
    fresh.socket.end(encodeRequest([OTHER, OTHER_PASSWORD, 'smtp', '']));
    await fresh.closed;
    expect(fresh.received()).toEqual(Buffer.from('\x00\x02OK', 'latin1'));
    expect(d.output()).not.toContain('closing connection without a request');

    // A client that stays silent past the window is a stalled one: the next newcomer takes its slot.
    const stalled = await quiet(d.socket);
    await new Promise((r) => setTimeout(r, 300));
    expect(await verdict(d.socket, OTHER, OTHER_PASSWORD)).toBe('OK');
    await stalled.closed;
    expect(stalled.received()).toEqual(Buffer.alloc(0));
    expect(d.output()).toContain('closing connection without a request: connection limit 4 reached');
    for (const h of held) expect(h.received()).toEqual(Buffer.alloc(0));
  }, 30_000);
});
