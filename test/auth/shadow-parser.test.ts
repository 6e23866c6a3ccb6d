import { describe, expect, it } from 'vitest';
import { accountState, daysSinceEpoch, parsePasswd, parseShadow, type ShadowEntry } from '../../src/auth/backends/shadow/shadow-parser.js';

const entry = (over: Partial<ShadowEntry>): ShadowEntry => ({
  name: 'u', hash: 'x', lastChange: 20000, minDays: 0, maxDays: 99999, warnDays: 7, inactiveDays: null, expireDay: null, ...over,
});

describe('parseShadow', () => {
  it('parses fields, empty numbers as not set', () => {
    const p = parseShadow('root:$6$abc$def:19000:0:99999:7:::\nbob:!:19500::::::\n');
    expect(p.problems).toEqual([]);
    expect(p.entries.get('root')).toEqual({
      name: 'root', hash: '$6$abc$def', lastChange: 19000, minDays: 0, maxDays: 99999, warnDays: 7, inactiveDays: null, expireDay: null,
    });
    expect(p.entries.get('bob')?.hash).toBe('!');
    expect(p.entries.get('bob')?.maxDays).toBeNull();
  });

  it('skips malformed lines and reports them by number; the first duplicate wins', () => {
    const p = parseShadow('a:h1:1:0:9:7:::\nshort:h:1\nbad:h:x:0:9:7:::\na:h2:1:0:9:7:::\n+nis::::::::\n\n# c\n');
    expect([...p.entries.keys()]).toEqual(['a']);
    expect(p.entries.get('a')?.hash).toBe('h1');
    expect(p.problems.map((x) => x.line)).toEqual([2, 3, 4]);
  });

  it('drops a last line without newline (file caught mid-write) instead of trusting a cut entry', () => {
    // Cut before the expire field: trusting it would drop the expiry date.
    const p = parseShadow('ok:h:1:0:9:7:::\ncut:$6$s$h:19000:0:99999:7::');
    expect([...p.entries.keys()]).toEqual(['ok']);
    expect(p.problems).toEqual([{ line: 2, message: expect.stringContaining('no newline') }]);
  });

  it('treats -1 as not set', () => {
    expect(parseShadow('a:h:-1:-1:-1:-1:-1:-1:\n').entries.get('a')).toMatchObject({ lastChange: null, expireDay: null });
  });
});

describe('parsePasswd', () => {
  it('parses the seven fields', () => {
    const p = parsePasswd('joe:x:1000:1000:Joe,,,:/home/joe:/bin/bash\nbad:x:y:1::/:/bin/sh\n');
    expect(p.entries.get('joe')).toEqual({ name: 'joe', passwd: 'x', uid: 1000, gid: 1000, gecos: 'Joe,,,', dir: '/home/joe', shell: '/bin/bash' });
    expect(p.problems).toHaveLength(1);
  });
});

describe('accountState (shadow(5), pam_unix edge cases)', () => {
  const today = 20500;
  it('valid when nothing is set', () => {
    expect(accountState(entry({ lastChange: null, maxDays: null }), today).state).toBe('valid');
  });
  it('account expired on and after its expire day; expire 0 counts as expired', () => {
    expect(accountState(entry({ expireDay: today + 1 }), today).state).toBe('valid');
    expect(accountState(entry({ expireDay: today }), today).state).toBe('account-expired');
    expect(accountState(entry({ expireDay: 0 }), today).state).toBe('account-expired');
  });
  it('last change 0 means the password must be changed', () => {
    expect(accountState(entry({ lastChange: 0 }), today).state).toBe('must-change');
  });
  it('password expired after last change + max days, inactive after + inact days', () => {
    expect(accountState(entry({ lastChange: today - 10, maxDays: 10 }), today).state).toBe('valid');
    expect(accountState(entry({ lastChange: today - 11, maxDays: 10 }), today).state).toBe('password-expired');
    expect(accountState(entry({ lastChange: today - 15, maxDays: 10, inactiveDays: 5 }), today).state).toBe('password-expired');
    expect(accountState(entry({ lastChange: today - 16, maxDays: 10, inactiveDays: 5 }), today).state).toBe('inactive');
  });
  it('a last change in the future (clock skew) does not expire the password', () => {
    expect(accountState(entry({ lastChange: today + 3, maxDays: 1 }), today).state).toBe('valid');
  });
  it('counts whole UTC days since the epoch', () => {
    expect(daysSinceEpoch(0)).toBe(0);
    expect(daysSinceEpoch(86_400_000 - 1)).toBe(0);
    expect(daysSinceEpoch(Date.UTC(2026, 10, 27, 23, 59))).toBe(20784);
    expect(daysSinceEpoch(Date.UTC(2026, 10, 28, 0, 0))).toBe(20785);
  });
});
