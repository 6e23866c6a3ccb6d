import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, type Socket, createServer } from 'node:net';
import { type TLSSocket, createServer as createTlsServer } from 'node:tls';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type RunningDaemon, startOurs } from '../../fixtures/daemon.js';
import { makeCertificate } from '../../fixtures/dovecot.js';
import { verdict } from '../../fixtures/testsaslauthd.js';

// Ports 24340-24349 belong to this file (the rimap range is 24300-24399).
const PLAIN_PORT = 24340;
const TLS_PORT = 24341;
const V6_PORT = 24342;

const USER = 'sat_rimap_alice';
const PASSWORD = 'pw-1';
const EIGHT_BIT = 'pässword';

/** How the small server the test owns behaves for the next connection. */
type Behaviour =
  | 'good'
  | 'silent'
  | 'greet-then-hang'
  | 'garbage-greeting'
  | 'garbage-after-login'
  | 'close-mid-login'
  | 'endless-line'
  | 'bye-greeting'
  | 'no-greeting'
  | 'preauth'
  | 'wrong-tag-ok'
  | 'bad-to-login'
  | 'chatty-good'
  | 'starttls-plaintext-injection'
  | 'logindisabled-without-starttls'
  | 'sync-literals';

interface FakeImap {
  behaviour: Behaviour;
  /** Cuts every open connection, as a server restart would. */
  dropAll(): void;
  /** Everything clients sent, per connection. */
  readonly received: string[];
  close(): Promise<void>;
}

const GREETING = '* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN SASL-IR] fake ready\r\n';

function credentialsOk(line: string): boolean {
  const login = /^(\S+) LOGIN "([^"\\]*)" "([^"\\]*)"$/.exec(line);
  if (login) return login[2] === USER && login[3] === PASSWORD;
  const plain = /^(\S+) AUTHENTICATE PLAIN (\S+)$/.exec(line);
  if (plain) return Buffer.from(plain[2]!, 'base64').toString('utf8') === `\0${USER}\0${PASSWORD}`;
  return false;
}

/** A minimal scripted IMAP server: enough of the protocol to misbehave in one chosen way. */
function serve(fake: FakeImap, socket: Socket | TLSSocket, index: number): void {
  const b = fake.behaviour;
  fake.received[index] = '';
  socket.on('error', () => {});
  let buf = '';
  const greeting = b === 'sync-literals' ? '* OK [CAPABILITY IMAP4rev1] fake ready\r\n' : b === 'logindisabled-without-starttls' ? '* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] fake\r\n' : b === 'starttls-plaintext-injection' ? '* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] fake\r\n' : GREETING;
  switch (b) {
    case 'silent':
      break;
    case 'garbage-greeting':
      socket.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      break;
    case 'endless-line':
      socket.write(`* OK ${'x'.repeat(200_000)}`);
      break;
    case 'bye-greeting':
      socket.end('* BYE too many connections, try later\r\n');
      break;
    case 'no-greeting':
      socket.write('* NO service disabled\r\n');
      break;
    case 'preauth':
      socket.write('* PREAUTH [CAPABILITY IMAP4rev1] welcome, you are logged in\r\n');
      break;
    default:
      socket.write(greeting);
  }
  let literalPending = false;
  socket.on('data', (d: Buffer) => {
    fake.received[index] += d.toString('latin1');
    buf += d.toString('latin1');
    for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const tag = line.split(' ')[0]!;
      const cmd = (line.split(' ')[1] ?? '').toUpperCase();
      if (cmd === 'LOGOUT') {
        socket.end(`* BYE bye\r\n${tag} OK LOGOUT done\r\n`);
        return;
      }
      if (cmd === 'CAPABILITY') {
        socket.write(`* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n${tag} OK done\r\n`);
        continue;
      }
      if (cmd === 'STARTTLS' && b === 'starttls-plaintext-injection') {
        // The plaintext line after OK would be read as if it came over TLS.
        socket.write(`${tag} OK Begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n`);
        continue;
      }
      if (b === 'sync-literals') {
        if (/\{\d+\}$/.test(line)) {
          literalPending = true;
          socket.write('+ go ahead\r\n');
          continue;
        }
        if (literalPending) {
          literalPending = false;
          // This line is the literal's bytes: the 8-bit password, byte for byte.
          socket.write(line === Buffer.from(EIGHT_BIT, 'utf8').toString('latin1') ? `A1 OK welcome\r\n` : `A1 NO nope\r\n`);
          continue;
        }
      }
      if (cmd !== 'LOGIN' && cmd !== 'AUTHENTICATE') {
        socket.write(`${tag} BAD unknown\r\n`);
        continue;
      }
      switch (b) {
        case 'greet-then-hang':
          break;
        case 'garbage-after-login':
          socket.write('\x00\x01\x02 binary junk\r\n');
          break;
        case 'close-mid-login':
          socket.destroy();
          return;
        case 'wrong-tag-ok':
          socket.write('X9 OK you are in\r\n');
          break;
        case 'bad-to-login':
          socket.write(`${tag} BAD command unknown\r\n`);
          break;
        case 'chatty-good':
          socket.write(`* OK [ALERT] maintenance tonight\r\n* NO a warning\r\n* 3 EXISTS\r\n* CAPABILITY IMAP4rev1 IDLE\r\n`);
          socket.write(credentialsOk(line) ? `${tag} OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n` : `${tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n`);
          break;
        default:
          socket.write(credentialsOk(line) ? `${tag} OK Logged in\r\n` : `${tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n`);
      }
    }
  });
}

async function listen(server: Server, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

async function startFake(port: number, host = '127.0.0.1', tls?: { cert: Buffer; key: Buffer }): Promise<FakeImap> {
  const sockets = new Set<Socket>();
  let count = 0;
  const fake: FakeImap = {
    behaviour: 'good',
    received: [],
    dropAll: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const onSocket = (s: Socket | TLSSocket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    serve(fake, s, count++);
  };
  const server: Server = tls ? createTlsServer({ cert: tls.cert, key: tls.key }, onSocket) : createServer(onSocket);
  await listen(server, port, host);
  return fake;
}

let dir: string;
let fake: FakeImap;
let daemon: RunningDaemon;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat-rimap-faults-');
  fake = await startFake(PLAIN_PORT);
  daemon = await startOurs([
    '-a', 'rimap', '-O', `127.0.0.1:${PLAIN_PORT}`,
    '--rimap-timeout', '4000', '--rimap-read-timeout', '1500', '--rimap-connect-timeout', '1500',
    // Each case must meet a connection opened under its own behaviour, not a spare made earlier.
    '--rimap-spare-connections', '0',
    // The core's own deadline is far away, so a NO here can only come from rimap's deadlines.
    '--auth-timeout', '25000', '--log-format', 'json',
  ]);
});

afterAll(async () => {
  await daemon?.stop();
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The reason rimap logged for the last failure. */
function lastReason(d: RunningDaemon): string {
  const lines = d.output().trim().split('\n').filter((l) => l.includes('"outcome"'));
  const last = JSON.parse(lines.at(-1)!) as { outcome: string; code?: string; reason?: string };
  return `${last.outcome}/${last.code ?? ''}: ${last.reason ?? ''}`;
}

const CASES: readonly { behaviour: Behaviour; reason: RegExp }[] = [
  { behaviour: 'silent', reason: /^unavailable\/timeout: .*no response from the server in time/ },
  { behaviour: 'greet-then-hang', reason: /^unavailable\/timeout: .*no response from the server in time/ },
  { behaviour: 'garbage-greeting', reason: /^unavailable\/protocol-error: .*unexpected greeting: HTTP\/1\.1 400/ },
  { behaviour: 'garbage-after-login', reason: /^unavailable\/protocol-error: .*not an IMAP response/ },
  { behaviour: 'close-mid-login', reason: /^unavailable\/protocol-error: .*server closed the connection/ },
  { behaviour: 'endless-line', reason: /^unavailable\/protocol-error: .*response longer than 65536 bytes/ },
  { behaviour: 'bye-greeting', reason: /^unavailable\/backend-error: .*refused service in its greeting: BYE too many/ },
  { behaviour: 'no-greeting', reason: /^unavailable\/backend-error: .*refused service in its greeting: NO/ },
  { behaviour: 'preauth', reason: /^unavailable\/protocol-error: .*PREAUTH/ },
  { behaviour: 'wrong-tag-ok', reason: /^unavailable\/protocol-error: .*response for a command we did not send: X9/ },
  { behaviour: 'bad-to-login', reason: /^unavailable\/protocol-error: .*server said BAD/ },
  { behaviour: 'logindisabled-without-starttls', reason: /^unavailable\/connect-failed: .*does not offer STARTTLS.*refusing to send the password in clear/ },
  { behaviour: 'starttls-plaintext-injection', reason: /^unavailable\/protocol-error: .*plaintext after agreeing to STARTTLS/ },
];

describe('a misbehaving IMAP server gets NO within rimap deadlines, never OK, and the daemon keeps serving', () => {
  test.each(CASES)('$behaviour', async ({ behaviour, reason }) => {
    fake.behaviour = behaviour;
    const first = fake.received.length;
    expect(await verdict(daemon.socket, USER, PASSWORD)).toBe('NO');
    expect(lastReason(daemon)).toMatch(reason);
    if (behaviour === 'logindisabled-without-starttls' || behaviour === 'starttls-plaintext-injection') {
      // The password never left.
      expect(fake.received.slice(first).join('')).not.toMatch(/LOGIN|AUTHENTICATE/);
    }
    fake.behaviour = 'good';
    expect(daemon.proc.exitCode).toBeNull();
    expect(await verdict(daemon.socket, USER, PASSWORD)).toBe('OK');
    expect(await verdict(daemon.socket, USER, 'wrong')).toBe('NO');
  });

  test('untagged OK/NO/EXISTS/CAPABILITY lines around the verdict are tolerated (saslauthd calls them unexpected)', async () => {
    fake.behaviour = 'chatty-good';
    expect(await verdict(daemon.socket, USER, PASSWORD)).toBe('OK');
    expect(await verdict(daemon.socket, USER, 'wrong')).toBe('NO');
    expect(lastReason(daemon)).toMatch(/^rejected\/bad-password: 127\.0\.0\.1:24340 said NO to AUTHENTICATE PLAIN: \[AUTHENTICATIONFAILED\]/);
  });
});

describe('spare connections', () => {
  test('spares the server closed while idle are dropped, and the request still gets its answer', async () => {
    fake.behaviour = 'good';
    const d = await startOurs(['-a', 'rimap', '-O', `127.0.0.1:${PLAIN_PORT}`, '--rimap-spare-connections', '2']);
    try {
      const first = fake.received.length;
      expect(await verdict(d.socket, USER, PASSWORD)).toBe('OK');
      // Wait until the two spares are connected, then cut them server-side.
      for (let i = 0; i < 100 && fake.received.length < first + 3; i++) await new Promise((r) => setTimeout(r, 50));
      expect(fake.received.length).toBe(first + 3);
      await new Promise((r) => setTimeout(r, 200));
      fake.dropAll();
      await new Promise((r) => setTimeout(r, 200));
      expect(await verdict(d.socket, USER, PASSWORD)).toBe('OK');
      expect(await verdict(d.socket, USER, 'wrong')).toBe('NO');
      expect(await verdict(d.socket, USER, PASSWORD)).toBe('OK');
    } finally {
      await d.stop();
    }
  });
});

describe('synchronizing literals when the server has no LITERAL+', () => {
  test('8-bit password goes as {n}, waits for +, then the bytes', async () => {
    fake.behaviour = 'sync-literals';
    const d = await startOurs(['-a', 'rimap', '-O', `127.0.0.1:${PLAIN_PORT}`, '--rimap-read-timeout', '2000', '--rimap-spare-connections', '0']);
    try {
      const first = fake.received.length;
      expect(await verdict(d.socket, USER, EIGHT_BIT)).toBe('OK');
      const pw = Buffer.from(EIGHT_BIT, 'utf8');
      expect(fake.received[first]).toBe(`A1 LOGIN "${USER}" {${pw.length}}\r\n${pw.toString('latin1')}\r\nA2 LOGOUT\r\n`);
    } finally {
      await d.stop();
      fake.behaviour = 'good';
    }
  });
});

describe('TLS certificate verification', () => {
  let tlsFake: FakeImap;
  let trusted: string;
  beforeAll(async () => {
    // The server presents "other"; the daemon trusts only "trusted".
    const other = await makeCertificate(dir, 'other');
    trusted = (await makeCertificate(dir, 'trusted')).cert;
    tlsFake = await startFake(TLS_PORT, '127.0.0.1', { cert: readFileSync(other.cert), key: readFileSync(other.key) });
  });
  afterAll(async () => {
    await tlsFake?.close();
  });

  test('a certificate the CA file does not vouch for → NO, nothing sent; --rimap-insecure opts out', async () => {
    const d = await startOurs(['-a', 'rimap', '-O', `imaps://127.0.0.1:${TLS_PORT}`, '--rimap-ca', trusted, '--log-format', 'json']);
    try {
      expect(await verdict(d.socket, USER, PASSWORD)).toBe('NO');
      expect(lastReason(d)).toMatch(/^unavailable\/connect-failed: imaps:\/\/127\.0\.0\.1:24341: TLS handshake failed: .*(self[- ]signed|SELF_SIGNED)/i);
      expect(tlsFake.received.join('')).toBe('');
      expect(await verdict(d.socket, USER, PASSWORD)).toBe('NO');
    } finally {
      await d.stop();
    }
    const insecure = await startOurs(['-a', 'rimap', '-O', `imaps://127.0.0.1:${TLS_PORT}`, '--rimap-insecure']);
    try {
      expect(insecure.output()).toContain('TLS certificates are NOT verified');
      expect(await verdict(insecure.socket, USER, PASSWORD)).toBe('OK');
    } finally {
      await insecure.stop();
    }
  });

  test('a certificate for another host name → NO', async () => {
    const wrongName = await makeCertificate(dir, 'wrongname', 'imap.example.org', 'DNS:imap.example.org');
    const server = await startFake(TLS_PORT + 5, '127.0.0.1', { cert: readFileSync(wrongName.cert), key: readFileSync(wrongName.key) });
    const d = await startOurs(['-a', 'rimap', '-O', `imaps://127.0.0.1:${TLS_PORT + 5}`, '--rimap-ca', wrongName.cert, '--log-format', 'json']);
    try {
      expect(await verdict(d.socket, USER, PASSWORD)).toBe('NO');
      expect(lastReason(d)).toMatch(/TLS handshake failed: .*(IP: 127\.0\.0\.1 is not in the cert's list|ERR_TLS_CERT_ALTNAME_INVALID)/);
      expect(server.received.join('')).toBe('');
    } finally {
      await d.stop();
      await server.close();
    }
  });
});

describe('-O forms', () => {
  test('[::1]:port reaches a server on IPv6 loopback', async () => {
    let v6: FakeImap;
    try {
      v6 = await startFake(V6_PORT, '::1');
    } catch {
      console.warn('no IPv6 loopback here; skipping the [::1] case');
      return;
    }
    const d = await startOurs(['-a', 'rimap', '-O', `[::1]:${V6_PORT}`]);
    try {
      expect(await verdict(d.socket, USER, PASSWORD)).toBe('OK');
      expect(await verdict(d.socket, USER, 'nope')).toBe('NO');
    } finally {
      await d.stop();
      await v6.close();
    }
  });

  test('no -O, or a bad -O, stops the daemon at start-up with a message naming -O', async () => {
    await expect(startOurs(['-a', 'rimap'])).rejects.toThrow(/-O is required for rimap/);
    await expect(startOurs(['-a', 'rimap', '-O', 'imap.example.org:99999'])).rejects.toThrow(/port '99999'/);
    await expect(startOurs(['-a', 'rimap', '-O', 'ldap://x'])).rejects.toThrow(/unknown scheme/);
    await expect(startOurs(['-a', 'rimap', '-O', 'localhost', '--rimap-ca', '/nonexistent.pem'])).rejects.toThrow(/--rimap-ca '\/nonexistent.pem': cannot read/);
  });
});
