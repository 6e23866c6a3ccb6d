import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withRootHint } from '../../src/cli/start-errors.js';
import { trailingFields } from '../../src/log/fields.js';
import { stderrIsJournal } from '../../src/log/journal.js';
import { createLogger, formatText } from '../../src/log/logger.js';
import { syslogLine } from '../../src/log/syslog.js';

// Pure pieces of issue 14 item 5 (the daemon-level proofs are log-format, journald and fail2ban tests).

let dir: string;
beforeAll(() => {
  dir = mkdtempSync('/tmp/sat_lg-records-');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const AUTH = {
  level: 30, time: '2026-11-29T11:32:09.576Z', conn: 2, user: 'alice', service: 'imap', realm: '', remote: '192.0.2.7;41000', mech: 'shadow',
  outcome: 'rejected', code: 'bad-password', reason: 'password mismatch', ms: 2.1,
  msg: 'auth failure: [user=alice] [service=imap] [realm=] [remote=192.0.2.7;41000] [mech=shadow] [reason=password mismatch]',
};

describe('text and syslog records', () => {
  it('write a field the message shows as [key=value] once, and every other field', () => {
    expect(trailingFields(AUTH)).toBe(' conn=2 outcome=rejected code=bad-password ms=2.1');
    expect(trailingFields({ level: 30, msg: 'listening on socket: /x', path: '/x', user: 'bob' })).toBe(' path=/x user=bob');
  });

  it('start with the time, or with <N> and no time for journald', () => {
    expect(formatText(AUTH)).toBe(`2026-11-29T11:32:09.576Z INFO ${AUTH.msg} conn=2 outcome=rejected code=bad-password ms=2.1\n`);
    expect(formatText(AUTH, true)).toBe(`<6>INFO ${AUTH.msg} conn=2 outcome=rejected code=bad-password ms=2.1\n`);
    expect([60, 50, 40, 30, 20, 10].map((level) => formatText({ level, msg: 'm' }, true).slice(0, 3))).toEqual(['<2>', '<3>', '<4>', '<6>', '<7>', '<7>']);
  });

  it('syslog: ident saslauthd, or the one given', () => {
    const at = new Date(2026, 10, 7, 9, 5, 1);
    expect(syslogLine(AUTH, at, 9)).toBe(`<38>Nov  7 09:05:01 saslauthd[9]: ${AUTH.msg} conn=2 outcome=rejected code=bad-password ms=2.1`);
    expect(syslogLine(AUTH, at, 9, 4, 'imap-auth')).toMatch(/^<38>Nov {2}7 09:05:01 imap-auth\[9\]: auth failure: /);
  });

  it('JSON levels are names', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'trace', format: 'json', destination: { write: (l: string) => void lines.push(l) } });
    log.trace('t');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    log.fatal('f');
    expect(lines.map((l) => (JSON.parse(l) as { level: unknown }).level)).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
  });
});

describe('journald detection', () => {
  it('only when JOURNAL_STREAM is the dev:ino of that very fd', () => {
    const fd = openSync(join(dir, 'stderr'), 'w');
    try {
      const st = fstatSync(fd);
      expect(stderrIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd)).toBe(true);
      expect(stderrIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }, fd)).toBe(false);
      expect(stderrIsJournal({}, fd)).toBe(false);
      expect(stderrIsJournal({ JOURNAL_STREAM: 'garbage' }, fd)).toBe(false);
    } finally {
      closeSync(fd);
    }
  });
});

describe('the root hint', () => {
  const eacces = Object.assign(new Error("EACCES: permission denied, open '/etc/shadow'"), { code: 'EACCES', syscall: 'open', path: '/etc/shadow' });
  it('says what needed root when a non-root start meets EACCES/EPERM, also through a cause', () => {
    expect(withRootHint(eacces, 65534)).toMatch(/^EACCES: permission denied, open '\/etc\/shadow'\. saslauthd-ts is running as \S+ \(uid 65534\), not root: reading \/etc\/shadow needs root\. /);
    const wrapped = new Error('cannot create run directory /x: EPERM', { cause: Object.assign(new Error('EPERM'), { code: 'EPERM', syscall: 'lchown', path: '/x' }) });
    expect(withRootHint(wrapped, 1000)).toContain('not root: giving /x its group needs root.');
  });
  it('adds nothing for root, or for other errors', () => {
    expect(withRootHint(eacces, 0)).toBe(eacces.message);
    expect(withRootHint(Object.assign(new Error('ENOENT'), { code: 'ENOENT' }), 1000)).toBe('ENOENT');
  });
});
