import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sendRequest } from '../../../src/client/saslauthd-client.js';
import { type RunningDaemon, startOurs, startReal } from '../../fixtures/daemon.js';
import { type RunningDovecot, startDovecot } from '../../fixtures/dovecot.js';
import { type RecordingProxy, startRecordingProxy } from '../../fixtures/recording-proxy.js';
import { testsaslauthd, verdict } from '../../fixtures/testsaslauthd.js';

// Ports 24310-24319 belong to this file (the rimap range is 24300-24399).
const BASE = 24310;
const PROXY_PORT = 24315;
const DEAD_PORT = 24319;

const ALICE = { name: 'sat_rimap_alice', password: 'Secret-1' };
// Space, quote, backslash, an IMAP literal marker and UTF-8: each breaks a naive LOGIN.
const WEIRD = { name: 'sat_rimap_weird', password: 'a b"c\\d{5}é€ ok' };
const ASCII_WEIRD = { name: 'sat_rimap_ascii', password: 'a b"c\\d{5} %*(' };
const CAROL = { name: 'sat_rimap_carol@example.org', password: 'Realm-Pw3' };

let dovecot: RunningDovecot;

beforeAll(async () => {
  dovecot = await startDovecot({ basePort: BASE, users: [ALICE, WEIRD, ASCII_WEIRD, CAROL] });
});

afterAll(async () => {
  await dovecot?.stop();
});

async function withOurs<T>(args: string[], body: (d: RunningDaemon) => Promise<T>): Promise<T> {
  const d = await startOurs(['-a', 'rimap', ...args]);
  try {
    return await body(d);
  } finally {
    await d.stop();
  }
}

interface Mode {
  readonly name: string;
  args(): string[];
}

const MODES: readonly Mode[] = [
  { name: "plaintext, saslauthd's host/port form", args: () => ['-O', `127.0.0.1/${dovecot.plainPort}`] },
  { name: 'STARTTLS (--rimap-starttls)', args: () => ['-O', `imap://127.0.0.1:${dovecot.plainPort}`, '--rimap-starttls', '--rimap-ca', dovecot.certFile] },
  { name: 'implicit TLS (imaps://)', args: () => ['-O', `imaps://127.0.0.1:${dovecot.imapsPort}`, '--rimap-ca', dovecot.certFile] },
  { name: 'LOGINDISABLED forces STARTTLS', args: () => ['-O', `${dovecot.strictHost}:${dovecot.strictPort}`, '--rimap-ca', dovecot.certFile] },
  { name: 'LOGIN command instead of AUTHENTICATE', args: () => ['-O', `127.0.0.1:${dovecot.plainPort}`, '--rimap-auth', 'login'] },
  { name: 'LOGIN after STARTTLS on imaps with localhost name', args: () => ['-O', `imaps://localhost:${dovecot.imapsPort}`, '--rimap-ca', dovecot.certFile, '--rimap-auth', 'login'] },
];

describe.each(MODES)('testsaslauthd against saslauthd-ts -a rimap: $name', (mode) => {
  test('right → OK, wrong → NO, unknown → NO, special characters → OK', async () => {
    await withOurs(mode.args(), async (d) => {
      expect(await verdict(d.socket, ALICE.name, ALICE.password)).toBe('OK');
      expect(await verdict(d.socket, ALICE.name, 'Secret-2')).toBe('NO');
      expect(await verdict(d.socket, 'sat_rimap_nobody', ALICE.password)).toBe('NO');
      expect(await verdict(d.socket, WEIRD.name, WEIRD.password)).toBe('OK');
      expect(await verdict(d.socket, WEIRD.name, 'a b"c\\d{5}é€ ok!')).toBe('NO');
      expect(await verdict(d.socket, ASCII_WEIRD.name, ASCII_WEIRD.password)).toBe('OK');
      // A wrong password must never be confused with the right one by quoting: the escaped form of the right one.
      expect(await verdict(d.socket, ASCII_WEIRD.name, 'a b\\"c\\\\d{5} %*(')).toBe('NO');
    });
  });
});

describe('compatibility with the real saslauthd -a rimap (plaintext port)', () => {
  test('same verdicts and, with --compat-replies, the same reply texts', async () => {
    const real = await startReal(['-a', 'rimap', '-O', `127.0.0.1/${dovecot.plainPort}`, '-n', '1']);
    try {
      await withOurs(['-O', `127.0.0.1/${dovecot.plainPort}`, '--compat-replies'], async (ours) => {
        const cases = [
          { login: ALICE.name, password: ALICE.password, expect: 'OK remote authentication successful' },
          { login: ALICE.name, password: 'wrong', expect: 'NO remote server rejected your credentials' },
          { login: 'sat_rimap_nobody', password: 'x', expect: 'NO remote server rejected your credentials' },
          { login: ASCII_WEIRD.name, password: ASCII_WEIRD.password, expect: 'OK remote authentication successful' },
        ];
        for (const c of cases) {
          const req = { login: c.login, password: c.password, service: 'imap', realm: '' };
          expect(await sendRequest(real.socket, req), `real saslauthd, ${c.login}`).toBe(c.expect);
          expect(await sendRequest(ours.socket, req), `saslauthd-ts, ${c.login}`).toBe(c.expect);
        }
      });
      expect(await verdict(real.socket, ALICE.name, ALICE.password)).toBe('OK');
    } finally {
      await real.stop();
    }
  });
});

describe('-r folds the realm into the login, as saslauthd does', () => {
  test('with -r user@realm authenticates; without -r the realm is ignored', async () => {
    await withOurs(['-O', `127.0.0.1/${dovecot.plainPort}`, '-r'], async (d) => {
      expect(await verdict(d.socket, 'sat_rimap_carol', CAROL.password, { realm: 'example.org' })).toBe('OK');
      expect(await verdict(d.socket, 'sat_rimap_carol', CAROL.password, { realm: 'other.org' })).toBe('NO');
    });
    await withOurs(['-O', `127.0.0.1/${dovecot.plainPort}`], async (d) => {
      expect(await verdict(d.socket, 'sat_rimap_carol', CAROL.password, { realm: 'example.org' })).toBe('NO');
      expect(await verdict(d.socket, CAROL.name, CAROL.password)).toBe('OK');
    });
  });
});

describe('a list of servers is tried in order', () => {
  test('a dead first server falls through to the live second one', async () => {
    await withOurs(['-O', `127.0.0.1:${DEAD_PORT}, 127.0.0.1/${dovecot.plainPort}`], async (d) => {
      expect(await verdict(d.socket, ALICE.name, ALICE.password)).toBe('OK');
      expect(await verdict(d.socket, ALICE.name, 'wrong')).toBe('NO');
    });
  });
});

describe('IMAP command injection through CR/LF', () => {
  let proxy: RecordingProxy;
  beforeAll(async () => {
    proxy = await startRecordingProxy(PROXY_PORT, '127.0.0.1', dovecot.plainPort);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  test('a password or login with CRLF and a second command is refused and never reaches the server', async () => {
    const injected = `wrong\r\nA9 LOGIN ${ALICE.name} ${ALICE.password}`;
    await withOurs(['-O', `127.0.0.1:${PROXY_PORT}`, '--rimap-auth', 'login', '--rimap-spare-connections', '0'], async (d) => {
      const before = proxy.sessions.length;
      expect(await verdict(d.socket, ALICE.name, injected)).toBe('NO');
      expect(await verdict(d.socket, `${ALICE.name}\r\nA9 LOGOUT`, 'x')).toBe('NO');
      expect(await verdict(d.socket, ALICE.name, 'a\rb')).toBe('NO');
      expect(await verdict(d.socket, ALICE.name, 'a\nb')).toBe('NO');
      expect(proxy.sessions.length).toBe(before);
      expect(d.output()).toContain('contains CR, LF or NUL; not sent to the IMAP server');
      // The same daemon still logs in normally through the proxy, with exactly one LOGIN and one LOGOUT.
      expect(await verdict(d.socket, ALICE.name, ALICE.password)).toBe('OK');
      expect(proxy.sessions.length).toBe(before + 1);
      const sent = proxy.sent().at(-1)!;
      expect(sent.match(/ LOGIN /g)).toHaveLength(1);
      // The greeting carries the capabilities, so LOGIN is the first command.
      expect(sent).toBe(`A1 LOGIN "sat_rimap_alice" "Secret-1"\r\nA2 LOGOUT\r\n`);
    });
    // Only the injected commands: Dovecot's random session ids may contain "A9" by chance.
    expect(dovecot.log()).not.toMatch(/A9 (LOGIN|LOGOUT)/);
  });

  test('for contrast, the real saslauthd sends the injected second command', async () => {
    const real = await startReal(['-a', 'rimap', '-O', `127.0.0.1/${PROXY_PORT}`, '-n', '1']);
    try {
      const before = proxy.sessions.length;
      const r = await testsaslauthd(real.socket, ALICE.name, `wrong\r\nA9 NOOP`);
      expect(r.stdout.startsWith('0: NO')).toBe(true);
      const sent = proxy.sent().slice(before).join('');
      expect(sent).toContain('"wrong\r\nA9 NOOP"\r\n');
    } finally {
      await real.stop();
    }
  });
});

describe('connection cap per server', () => {
  test('a burst of 40 requests opens at most --rimap-max-connections connections and all get the right verdict', async () => {
    const proxy = await startRecordingProxy(PROXY_PORT + 1, '127.0.0.1', dovecot.plainPort);
    try {
      await withOurs(['-O', `127.0.0.1:${PROXY_PORT + 1}`, '--rimap-max-connections', '3', '--rimap-spare-connections', '0'], async (d) => {
        const results = await Promise.all(
          Array.from({ length: 40 }, (_, i) =>
            sendRequest(d.socket, { login: ALICE.name, password: i % 2 === 0 ? ALICE.password : 'wrong', service: 'imap', realm: '' }, { timeoutMs: 60_000 }),
          ),
        );
        results.forEach((text, i) => expect(text, `request ${i}`).toBe(i % 2 === 0 ? 'OK' : 'NO authentication failed'));
      });
      expect(proxy.sessions.length).toBe(40);
      expect(proxy.maxConcurrent).toBeLessThanOrEqual(3);
    } finally {
      await proxy.close();
    }
  });
});

describe('spare connections', () => {
  test('each request uses one connection; two more stay greeted and ready', async () => {
    const proxy = await startRecordingProxy(PROXY_PORT + 2, '127.0.0.1', dovecot.plainPort);
    try {
      await withOurs(['-O', `127.0.0.1:${PROXY_PORT + 2}`, '--rimap-spare-connections', '2'], async (d) => {
        for (let i = 0; i < 5; i++) {
          expect(await verdict(d.socket, ALICE.name, i === 2 ? 'wrong' : ALICE.password)).toBe(i === 2 ? 'NO' : 'OK');
        }
        for (let i = 0; i < 100 && proxy.sessions.length < 7; i++) await new Promise((r) => setTimeout(r, 50));
        expect(proxy.sessions.length).toBe(5 + 2);
        // Every connection that carried credentials carried exactly one AUTHENTICATE and then LOGOUT.
        const used = proxy.sent().filter((s) => s.includes('AUTHENTICATE'));
        expect(used).toHaveLength(5);
        for (const s of used) expect(s).toMatch(/^A1 AUTHENTICATE PLAIN [A-Za-z0-9+/=]+\r\nA2 LOGOUT\r\n$/);
      });
    } finally {
      await proxy.close();
    }
  });
});
