import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import { SaslauthdError } from '../src/errors.js';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');
const CODE = /^SASLD_ERR_[A-Z0-9_]+$/;
/** The abstract base, typed loosely so it compares with the concrete classes. */
const BASE: unknown = SaslauthdError;

type ErrorClass = (new (...args: never[]) => Error) & { readonly code?: unknown };

const classes: Array<[string, ErrorClass]> = Object.entries(errors as Record<string, unknown>).filter(
  (e): e is [string, ErrorClass] => typeof e[1] === 'function' && (e[1] as ErrorClass).prototype instanceof Error,
);

/** Arguments for the classes whose constructor is not `(message)`. */
const SAMPLE_ARGS: Record<string, unknown[]> = {
  ConfigError: ['/etc/saslauthd.conf', 3, 'ldap_servers', 'not a URI'],
  UnknownMechanismError: ['nope', ['pam', 'shadow']],
  PoolFullError: [64],
  Krb5TimeoutError: [1500],
  RimapError: ['timeout', 'no response from the server in time'],
  LdapTransportError: ['connect-failed', 'no LDAP server'],
  LdapServiceBindError: ['cn=svc', new Error('invalid credentials')],
  ClientError: ['CONNECT', 'connect() : Connection refused'],
  SharedStateError: ['timeout', 'no answer from redis://127.0.0.1:6379 within 50 ms'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

describe('the errors module (src/errors.ts)', () => {
  it('exports the base and more than a handful of error classes', () => {
    expect(classes.map(([n]) => n)).toContain('SaslauthdError');
    expect(classes.length).toBeGreaterThan(20);
  });

  it('every exported error class extends SaslauthdError and has a SASLD_ERR_* code', () => {
    for (const [name, cls] of classes) {
      if (cls === BASE) continue;
      expect(cls.prototype instanceof SaslauthdError, `${name} extends SaslauthdError`).toBe(true);
      expect(cls.code, `${name}.code`).toMatch(CODE);
    }
  });

  it('codes are unique: one class per code', () => {
    const codes = classes.filter(([, c]) => c !== BASE).map(([, c]) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('an instance carries its class code, its message, and is still an Error', () => {
    for (const [name, cls] of classes) {
      if (cls === BASE) continue;
      const e = Reflect.construct(cls, SAMPLE_ARGS[name] ?? ['some message']) as SaslauthdError;
      expect(e, name).toBeInstanceOf(Error);
      expect(e.code, name).toBe(cls.code);
      expect(e.message, name).not.toBe('');
    }
  });

  it('keeps the messages tests and operators know', () => {
    expect(new errors.ConfigError('/etc/saslauthd.conf', 3, 'ldap_servers', 'not a URI').message).toBe('/etc/saslauthd.conf:3: ldap_servers: not a URI');
    expect(new errors.ConfigError('/etc/saslauthd.conf', null, null, 'cannot read: ENOENT').message).toBe('/etc/saslauthd.conf: cannot read: ENOENT');
    expect(new errors.UnknownMechanismError('nope', ['pam', 'shadow']).message).toBe('unknown authentication mechanism: nope (available: pam, shadow)');
    expect(new errors.PoolFullError(64).message).toBe('native work queue is full (64 waiting)');
    expect(new errors.Krb5TimeoutError(1500).message).toBe('no answer from libkrb5 within 1500 ms');
    expect(new errors.LdapServiceBindError('', new Error('invalid credentials')).message).toBe('service bind as (anonymous) refused: invalid credentials');
    const r = new errors.RimapError('overloaded', 'queue full');
    expect([r.code, r.reason, r.name]).toEqual(['SASLD_ERR_RIMAP', 'overloaded', 'RimapError']);
  });

  it('depends on nothing of ours, so protocol/ and native/ may import it', () => {
    const text = readFileSync(join(SRC, 'errors.ts'), 'utf8');
    expect(text.match(/^\s*(import|export)\b.*\bfrom\s+'[^']*'/gm) ?? []).toEqual([]);
  });
});

describe('every error thrown in src/ is one of them', () => {
  // The benchmark and fixtures live in bench/ and test/fixtures, outside src/: every file here counts.
  const files = sourceFiles(SRC).filter((f) => f !== join(SRC, 'errors.ts'));
  const offending = (re: RegExp): string[] =>
    files.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (re.test(line) ? [`${relative(ROOT, f)}:${i + 1}: ${line.trim()}`] : [])),
    );

  it('scans the real tree', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  it('no built-in Error is constructed (throw new Error, abort reasons, RangeError…)', () => {
    expect(offending(/\bnew (Error|RangeError|TypeError|SyntaxError)\(/)).toEqual([]);
  });

  it('no class extends Error directly', () => {
    expect(offending(/\bextends (Error|RangeError|TypeError)\b/)).toEqual([]);
  });

  it('callers compare codes through the class constant, never a SASLD_ERR_ or old ad-hoc string', () => {
    expect(offending(/'SASLD_ERR_|'POOL_FULL'|'UNKNOWN_MECH'|'KRB5_TIMEOUT'/)).toEqual([]);
  });
});
