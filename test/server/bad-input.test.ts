import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/client/saslauthd-client.js';
import { encodeRequest } from '../../src/protocol/index.js';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { rawConnect } from '../fixtures/raw-socket.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

const USER = 'sat_bad_user';
const PASSWORD = 'g00d pass';
let compat: RunningDaemon;
let uniform: RunningDaemon;

const frame = (text: string) => {
  const b = Buffer.alloc(2 + text.length);
  b.writeUInt16BE(text.length, 0);
  b.write(text, 2, 'latin1');
  return b;
};

/** Opens n idle connections, 100 at a time (a client-side burst is not what these tests are about). */
async function openIdle(path: string, n: number) {
  const out = [];
  for (let i = 0; i < n; i += 100) out.push(...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => rawConnect(path)))));
  return out;
}

const good = () => sendRequest(compat.socket, { login: USER, password: PASSWORD, service: 'imap', realm: '' });

beforeAll(async () => {
  await ensureUser(USER, await mkpasswd(PASSWORD, 'sha-256'));
  [compat, uniform] = await Promise.all([
    startOurs(['-a', 'shadow', '--compat-replies', '--request-timeout', '1500', '--drain-timeout', '1000', '--max-connections', '600']),
    startOurs(['-a', 'shadow', '--request-timeout', '1500']),
  ]);
});

afterAll(async () => {
  await Promise.all([compat?.stop(), uniform?.stop()]);
  await removeUser(USER);
});

describe('bad input over the socket', () => {
  it('answers an oversized field with saslauthd\'s bare "NO " at once, logs it, and keeps serving', async () => {
    const c = await rawConnect(compat.socket);
    c.write(Buffer.concat([encodeRequest([USER]), Buffer.from([0x01, 0x01])])); // password length 257
    expect(await c.closed).toEqual(frame('NO '));
    expect(compat.output()).toContain('password exceeded MAX_REQ_LEN: 256');
    expect(await good()).toBe('OK');
    const u = await rawConnect(uniform.socket);
    u.write(Buffer.from([0xff, 0xff]));
    expect(await u.closed).toEqual(frame('NO authentication failed'));
  });

  it('rejects NUL inside a field instead of truncating (saslauthd accepts "pw\\0junk" as "pw")', async () => {
    const c = await rawConnect(compat.socket);
    c.write(encodeRequest([USER, Buffer.from(`${PASSWORD}\0junk`), 'imap', '']));
    expect(await c.closed).toEqual(frame('NO NUL byte in request'));
    expect(compat.output()).toContain('rejected malformed request: nul-byte in password');
  });

  it('rejects empty login and empty password with saslauthd\'s texts', async () => {
    expect(await sendRequest(compat.socket, { login: '', password: 'x', service: 'imap', realm: '' })).toBe('NO NULL login received');
    expect(await sendRequest(compat.socket, { login: USER, password: '', service: 'imap', realm: '' })).toBe('NO NULL password received');
    expect(await sendRequest(uniform.socket, { login: '', password: '', service: 'imap', realm: '' })).toBe('NO authentication failed');
  });

  it('closes without a reply when the client hangs up mid-frame, and serves the next client', async () => {
    const c = await rawConnect(compat.socket);
    c.write(encodeRequest([USER, PASSWORD]).subarray(0, 9));
    c.socket.end();
    expect((await c.closed).length).toBe(0);
    expect(await good()).toBe('OK');
  });

  it('answers a client that half-closes right after a whole request', async () => {
    const c = await rawConnect(compat.socket);
    c.socket.end(encodeRequest([USER, PASSWORD, 'imap', '']));
    expect(await c.closed).toEqual(frame('OK'));
  });

  it('closes an idle connection after the request timeout without a reply', async () => {
    const c = await rawConnect(compat.socket);
    expect((await c.closed).length).toBe(0);
    expect(compat.output()).toContain('no whole request in time; closing');
  });

  it('closes a connection that sent part of a request and went quiet', async () => {
    const c = await rawConnect(compat.socket);
    c.write(Buffer.from([0x00, 0x10, 0x61]));
    expect((await c.closed).length).toBe(0);
  });

  it('still answers a valid request while 500 idle connections are open', async () => {
    const idle = await openIdle(compat.socket, 500);
    expect(await good()).toBe('OK');
    expect(await sendRequest(compat.socket, { login: USER, password: 'wrong', service: 'imap', realm: '' })).toBe('NO Incorrect password');
    for (const c of idle) c.socket.destroy();
  });

  it('drops the oldest idle connection when the cap is reached, so new clients get in', async () => {
    const idle = await openIdle(compat.socket, 600);
    expect(await good()).toBe('OK');
    // The first idle connection was evicted to make room: it got EOF and no bytes.
    expect((await idle[0]!.closed).length).toBe(0);
    expect(compat.output()).toContain('connection limit 600 reached');
    for (const c of idle) c.socket.destroy();
  });

  it('serves a v5 request (fifth field) and a v4 request that never half-closes', async () => {
    expect(await sendRequest(compat.socket, { login: USER, password: PASSWORD, service: 'smtp', realm: '', clientAddr: '192.0.2.9;4711' })).toBe('OK');
    expect(compat.output()).toContain('[remote=192.0.2.9;4711]');
    const c = await rawConnect(compat.socket);
    c.write(encodeRequest([USER, PASSWORD, 'imap', '']));
    // We never end our side: the daemon must still answer, then close after the drain timeout.
    expect(await c.closed).toEqual(frame('OK'));
  });

  it('is still up and answering after all of the above', async () => {
    expect(compat.proc.exitCode).toBeNull();
    expect(await good()).toBe('OK');
  });
});
