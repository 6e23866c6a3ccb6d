import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { UsageError, parseDaemonArgs } from '../../src/cli/daemon-args.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';

// Every option Debian 12's saslauthd accepts (its getopt string, read from the binary) or documents
// (saslauthd(8), `saslauthd -h`) must be accepted by ours, with or without a value exactly as
// there. A letter we deliberately do not take goes in EXCEPTIONS with the reason.
const EXCEPTIONS: Readonly<Record<string, string>> = {};

/** The getopt(3) option string compiled into /usr/sbin/saslauthd. */
function realGetoptString(): string {
  const strings = readFileSync('/usr/sbin/saslauthd').toString('latin1').split('\0');
  const found = strings.filter((s) => /^a:[A-Za-z:]+$/.test(s));
  if (found.length !== 1) throw new Error(`expected one getopt string in /usr/sbin/saslauthd, found ${JSON.stringify(found)}`);
  return found[0]!;
}

/** letter -> takes a value, from a getopt string. */
function parseGetopt(spec: string): Map<string, boolean> {
  const m = new Map<string, boolean>();
  for (let i = 0; i < spec.length; i++) if (spec[i] !== ':') m.set(spec[i]!, spec[i + 1] === ':');
  return m;
}

/** Flags saslauthd(8) documents: `.It Fl X [Ar value]` items and the synopsis `.Op Fl \&Tvdchlr`. */
function manPageFlags(): Map<string, boolean> {
  const man = gunzipSync(readFileSync('/usr/share/man/man8/saslauthd.8.gz')).toString('utf8');
  const m = new Map<string, boolean>();
  for (const [, letter, arg] of man.matchAll(/^\.It Fl ([A-Za-z])( Ar)?/gm)) m.set(letter!, arg !== undefined);
  for (const [, letters] of man.matchAll(/^\.Op Fl \\&([A-Za-z]+)$/gm)) for (const l of letters!) if (!m.has(l)) m.set(l, false);
  return m;
}

/** Flags `saslauthd -h` lists (to stderr): `  -X <value>  text` or `  -X  text`. */
async function usageFlags(): Promise<Map<string, boolean>> {
  const r = await run('/usr/sbin/saslauthd', ['-h']);
  const m = new Map<string, boolean>();
  for (const [, letter, arg] of r.stderr.matchAll(/^ {2}-([A-Za-z])( <)?/gm)) m.set(letter!, arg !== undefined);
  return m;
}

/** Our short flags from --help: `-X, --long <value>` or `-X, --long`. */
async function ourFlags(): Promise<Map<string, boolean>> {
  const r = await run(process.execPath, [DAEMON_BIN, '--help']);
  const m = new Map<string, boolean>();
  for (const [, letter, arg] of r.stdout.matchAll(/^ {2}-([A-Za-z]), --[\w-]+( <)?/gm)) m.set(letter!, arg !== undefined);
  return m;
}

describe("saslauthd(8)'s options, compared with ours", () => {
  it('Debian 12 compiles in a:cdhO:lm:n:rs:t:vV (the list below is built from it, not typed in)', () => {
    expect(realGetoptString()).toBe('a:cdhO:lm:n:rs:t:vV');
  });

  it('every option the real saslauthd accepts or documents is in our --help, taking a value the same way', async () => {
    const theirs = new Map([...parseGetopt(realGetoptString()), ...(await usageFlags()), ...manPageFlags()]);
    expect([...theirs.keys()].sort().join('')).toBe('HOTVacdhlmnrstv'); // the union, so a new Debian flag shows up here
    const ours = await ourFlags();
    const missing: string[] = [];
    for (const [letter, takesValue] of theirs) {
      if (letter in EXCEPTIONS) continue;
      if (!ours.has(letter)) missing.push(`-${letter} is not accepted`);
      else if (ours.get(letter) !== takesValue) missing.push(`-${letter} ${takesValue ? 'needs' : 'takes no'} value in saslauthd`);
    }
    expect(missing).toEqual([]);
  });

  it('each of them parses (h and v exit early, as in saslauthd)', () => {
    const values: Record<string, string> = { a: 'shadow', O: 'x', H: 'x', m: '/tmp/x', n: '2', s: '100', t: '60' };
    for (const letter of [...parseGetopt(realGetoptString()).keys(), 'H', 'T']) {
      if (letter === 'h' || letter === 'a') continue;
      const argv = ['-a', 'shadow', `-${letter}`, ...(values[letter] !== undefined ? [values[letter]!] : [])];
      expect(() => parseDaemonArgs(argv), `-${letter}`).not.toThrow();
    }
  });
});

describe('-H and -T', () => {
  it('-H host is -O host (the rimap host)', () => {
    const cmd = parseDaemonArgs(['-a', 'rimap', '-H', 'imap.example.org/993']);
    expect(cmd.kind === 'run' && cmd.options.mechOption).toBe('imap.example.org/993');
    const same = parseDaemonArgs(['-a', 'rimap', '-H', 'imap.example.org', '-O', 'imap.example.org']);
    expect(same.kind === 'run' && same.options.mechOption).toBe('imap.example.org');
  });

  it('-H and -O naming different things are refused', () => {
    expect(() => parseDaemonArgs(['-a', 'rimap', '-H', 'a.example.org', '-O', 'b.example.org'])).toThrow(UsageError);
    expect(() => parseDaemonArgs(['-a', 'rimap', '-H', 'a.example.org', '-O', 'b.example.org'])).toThrow('-H a.example.org and -O b.example.org disagree');
  });

  it('-T is accepted, changes nothing, and says so at start-up and in --help', async () => {
    const with_ = parseDaemonArgs(['-a', 'shadow', '-T']);
    const without = parseDaemonArgs(['-a', 'shadow']);
    expect(with_.kind === 'run' && without.kind === 'run' && with_.options).toEqual(without.kind === 'run' ? without.options : null);
    expect(with_.kind === 'run' && with_.notices).toEqual(['-T: time-of-day restrictions are not enforced (saslauthd never acted on -T either); use pam_time.so with -a pam']);
    expect(without.kind === 'run' && without.notices).toEqual([]);
    const help = (await run(process.execPath, [DAEMON_BIN, '--help'])).stdout;
    expect(help).toMatch(/^ {2}-T, --time-restrictions +accepted, no effect: saslauthd never acted on -T \(time-of-day restrictions\) and dropped it in 2002; use pam_time with -a pam$/m);
  });
});
