import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import fc from 'fast-check';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Authenticator, AuthRequest, Outcome } from '../../src/auth/authenticator.js';
import { ok, rejected } from '../../src/auth/authenticator.js';
import { PenaltyAuthenticator } from '../../src/auth/penalty.js';
import { bracketed, escapeLogValue } from '../../src/log/escape.js';
import { createLogger, type LogFormat } from '../../src/log/logger.js';
import { RequestHandler } from '../../src/server/request-handler.js';
import { datagramSink, type DatagramSink } from '../fixtures/datagram.js';
import { FORGING_LOGIN, checkLine, decodeLogValue, UNSAFE } from '../fixtures/log-lines.js';

/** Characters and fragments an attacker would use to shape a line. */
const NASTY = [
  '[', ']', '=', '\\', ' ', ';', '"', '\\x5b', '\r', '\n', '\r\n', '\t', '\x1b', '\x1b[2K', '\x0b', '\x0c', '\x7f', '\x85', '\x9b',
  '\u2028', '\u2029', '\u202a', '\u202e', '\u2066', '\u2069', '\u200b', '\u200e', '\u061c', '\ufeff', '\u00a0', '\u3000', '\u{e0041}',
  '[remote=198.51.100.9;1]', ' [remote=203.0.113.5', '] [user=root]', ' remote=203.0.113.6', '[user=', 'user=', '[service=imap]',
  '"remote":"203.0.113.7"', 'é', '😀',
];
const piece = fc.oneof(fc.constantFrom(...NASTY), fc.string({ unit: 'binary', maxLength: 3 }).map((s) => s.replaceAll('\0', '')), fc.constantFrom('alice', 'smtp', 'example.org'));
const text = (min: number) => fc.array(piece, { minLength: min, maxLength: 6 }).map((a) => a.join(''));
const login = fc.oneof(fc.constant(FORGING_LOGIN), text(1).map((s) => (s === '' ? 'u' : s)));
const clientAddr = fc.option(fc.oneof(fc.constant('192.0.2.7;41000'), text(0)), { nil: null });

/** What the daemon sees after UTF-8 on the wire (a lone surrogate arrives as U+FFFD; a leading BOM stays). */
const wire = (s: string): string => new TextDecoder('utf-8', { ignoreBOM: true }).decode(Buffer.from(s, 'utf8'));

/**
 * Refuses every password but `right`, with a reason that repeats login and realm the way LDAP and
 * rimap reasons can (a DN, a server's NO text).
 */
class EchoingBackend implements Authenticator {
  readonly name = 'echo';
  async authenticate(req: AuthRequest): Promise<Outcome> {
    if (req.password.expose().toString() === 'right') return ok();
    return rejected('bad-password', `bind as uid=${req.login},dc=${req.realm} refused: [AUTHENTICATIONFAILED] ${req.login}`, 'NO');
  }
  describe(): string[] {
    return [];
  }
  async close(): Promise<void> {}
}

interface Sample {
  readonly login: string;
  readonly service: string;
  readonly realm: string;
  readonly clientAddr: string | null;
}

/** Three wrong passwords (so the penalty line appears) and a right one, through handler + penalty. */
async function exercise(log: Logger, s: Sample): Promise<void> {
  const penalty = new PenaltyAuthenticator(new EchoingBackend(), { failDelayMs: 1, penaltyMaxMs: 8, jitter: 0 }, log);
  const handler = new RequestHandler(penalty, { compatReplies: false, authTimeoutMs: 5_000 }, log);
  for (const [i, password] of ['wrong1', 'wrong2', 'wrong3', 'right'].entries()) {
    const raw = {
      login: Buffer.from(s.login),
      password: Buffer.from(password),
      service: Buffer.from(s.service),
      realm: Buffer.from(s.realm),
      clientAddr: s.clientAddr === null ? null : Buffer.from(s.clientAddr),
    };
    await handler.handle(raw, { id: i + 1 }, new AbortController());
  }
}

let dir: string;
let sink: DatagramSink;
let syslogLogger: Logger;

beforeAll(() => {
  dir = mkdtempSync('/tmp/sat_lg-prop-');
  sink = datagramSink(join(dir, 'log'));
  syslogLogger = createLogger({ level: 'debug', format: 'text', syslogSocket: sink.path });
});
afterAll(() => {
  (syslogLogger as unknown as Record<symbol, { close(): void }>)[pino.symbols.streamSym]?.close();
  sink.close();
  rmSync(dir, { recursive: true, force: true });
});

async function linesFor(format: LogFormat | 'syslog', s: Sample): Promise<string[]> {
  if (format === 'syslog') {
    const from = sink.messages.length;
    await exercise(syslogLogger, s);
    // Datagrams are in the socket buffer once send() returned; the sink reads them on the next turns.
    const until = Date.now() + 5_000;
    let seen = -1;
    while (sink.messages.length !== seen && Date.now() < until) {
      seen = sink.messages.length;
      await new Promise((r) => setTimeout(r, 15));
    }
    return sink.messages.slice(from);
  }
  const writes: string[] = [];
  const log = createLogger({ level: 'debug', format, destination: { write: (l: string) => void writes.push(l) } });
  await exercise(log, s);
  // One write per record, one line terminator per write, at its end.
  for (const w of writes) expect(w.indexOf('\n')).toBe(w.length - 1);
  return writes.map((w) => w.slice(0, -1));
}

describe('client-written values cannot forge log lines', () => {
  it('the issue 11 login yields no [remote=] on a line without a 5th field (text)', async () => {
    const lines = await linesFor('text', { login: FORGING_LOGIN, service: 'smtp', realm: '', clientAddr: null });
    const pen = lines.filter((l) => l.includes('auth penalty:'));
    // Each field once: those in [brackets] are not repeated as key=value after them.
    expect(pen[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    expect(pen[0]!.slice(25)).toBe(
      'WARN auth penalty: [user=x \\x5bremote\\x3d198.51.100.9;1] [service=smtp] [failures=2] [delay=2ms] realm="" delay_ms=2',
    );
    expect(lines.filter((l) => /[[ ]remote=/.test(l))).toEqual([]);
  });

  it('escapes with an unambiguous, reversible encoding', () => {
    expect(escapeLogValue('alice@example.org')).toBe('alice@example.org');
    expect(escapeLogValue('a b')).toBe('a b');
    expect(escapeLogValue('x] [remote=1.2.3.4')).toBe('x\\x5d \\x5bremote\\x3d1.2.3.4');
    expect(escapeLogValue('\\x5b')).toBe('\\\\x5b');
    expect(escapeLogValue('say "hi"')).toBe('say \\x22hi\\x22');
    expect(escapeLogValue('\r\n\x1b\x0b\x0c\x7f\x85\u2028\u2029\u202e\u2066\u00a0\u{e0041}\ud800')).toBe(
      '\\x0d\\x0a\\x1b\\x0b\\x0c\\x7f\\x85\\u2028\\u2029\\u202e\\u2066\\xa0\\u{e0041}\\ud800',
    );
    expect(bracketed({ user: 'bob', realm: '', remote: null, delay: '2ms' })).toBe('[user=bob] [realm=] [delay=2ms]');
    // The ASCII fast path lets through exactly the printable characters that are not structure.
    for (let c = 0; c < 0x80; c++) {
      const ch = String.fromCharCode(c);
      const plain = c >= 0x20 && c <= 0x7e && !'\\[]="'.includes(ch);
      expect(escapeLogValue(`a${ch}b`) === `a${ch}b`, `0x${c.toString(16)}`).toBe(plain);
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const e = escapeLogValue(s);
        expect(UNSAFE.test(e) || /[[\]="]/.test(e)).toBe(false);
        expect(decodeLogValue(e)).toBe(s);
      }),
      { numRuns: 2_000 },
    );
  });

  it('property: every text, JSON and syslog line has one [user=], a [remote=] only for the real 5th field, no control or line-separator character', async () => {
    await fc.assert(
      fc.asyncProperty(login, text(0), text(0), clientAddr, async (l, service, realm, addr) => {
        const s: Sample = { login: l, service, realm, clientAddr: addr };
        const seen = { login: wire(l), service: wire(service), realm: wire(realm), clientAddr: addr === null ? null : wire(addr) };
        const [t, j, y] = await Promise.all([linesFor('text', s), linesFor('json', s), linesFor('syslog', s)]);
        // The same records in every format, in the same order, none lost on the syslog socket. The
        // penalty's debug line 'held by the failure penalty' is left out of the comparison: whether a
        // request is held depends on whether it arrives before the previous failure's check interval
        // is over (~1 ms here), which varies between the three runs; each held line is checked below.
        const kinds = (lines: readonly string[]): string[] =>
          lines.filter((x) => !x.includes('held by the failure penalty')).map((x) => /authenticating|auth (failure|success|penalty):/.exec(x)?.[0] ?? x);
        const expected = ['authenticating', 'auth failure:', 'authenticating', 'auth penalty:', 'auth failure:', 'authenticating', 'auth penalty:', 'auth failure:', 'authenticating', 'auth success:'];
        for (const lines of [t, j, y]) expect(kinds(lines)).toEqual(expected);
        for (const lines of [t, j, y]) expect(lines.length - expected.length).toBeLessThanOrEqual(3);
        for (const [format, lines] of [['text', t], ['json', j], ['syslog', y]] as const) {
          expect(lines.filter((x) => x.includes('auth failure:')).length).toBe(3);
          expect(lines.filter((x) => x.includes('auth success:')).length).toBe(1);
          expect(lines.filter((x) => x.includes('auth penalty:')).length).toBeGreaterThan(0);
          for (const line of lines) checkLine(format, line, seen);
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
