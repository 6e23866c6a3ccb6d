import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthRequest } from '../../src/auth/authenticator.js';
import { buildAuthenticator } from '../../src/auth/compose.js';
import { Secret } from '../../src/auth/secret.js';
import { parseDaemonArgs } from '../../src/cli/daemon-args.js';
import { Crypt } from '../../src/native/crypt.js';
import { type UserFiles, userFiles } from '../fixtures/user-files.js';

const log = pino({ level: 'silent' });
const signal = new AbortController().signal;
let tmp: string;
let a: UserFiles;
let b: UserFiles;

const options = (extra: string[]) => {
  const c = parseDaemonArgs(['-a', 'shadow', '--passwd-file', a.passwd, '--shadow-file', a.shadow, ...extra]);
  if (c.kind !== 'run') throw new Error('not run');
  return c.options;
};
const req = (login: string, pw: string, service = 'imap'): AuthRequest => ({ login, password: Secret.fromString(pw), service, realm: '', clientAddr: null });

beforeAll(async () => {
  tmp = mkdtempSync('/tmp/sat_cache_compose-');
  a = await userFiles(join(tmp, 'a'), { sat_cache_ann: 'pw-a' });
  b = await userFiles(join(tmp, 'b'), { sat_cache_ann: 'pw-b' });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('buildAuthenticator (real shadow backends)', () => {
  it('wires routes to their own instance, caches per chain, flushes', async () => {
    const composed = await buildAuthenticator(
      options(['-c', '--fail-delay', '0', '-a', 'shadow', '--route', 'smtp=shadow:b', '--link-option', `shadow:b.shadow-file=${b.shadow}`, '--link-option', `shadow:b.passwd-file=${b.passwd}`]),
      { crypt: new Crypt(2), log },
    );
    try {
      expect(await composed.authenticate(req('sat_cache_ann', 'pw-a'), signal)).toEqual({ kind: 'ok', compat: 'OK' });
      expect((await composed.authenticate(req('sat_cache_ann', 'pw-a'), signal)).log).toEqual({ cached: true });
      expect((await composed.authenticate(req('sat_cache_ann', 'pw-b', 'smtp'), signal)).log).toEqual({ route: 'service:smtp', via: 'shadow:b' });
      expect((await composed.authenticate(req('sat_cache_ann', 'pw-b', 'smtp'), signal)).log).toEqual({ cached: true, route: 'service:smtp', via: 'shadow:b' });
      expect((await composed.authenticate(req('sat_cache_ann', 'pw-a', 'smtp'), signal)).kind).toBe('rejected');
      expect(composed.cache?.snapshot().map((e) => e.key.split('\0')[0])).toEqual(['shadow', 'shadow:b']);
      expect(await composed.flushCache()).toBe(2);
      expect(composed.describe()).toContain(`[shadow:b] shadow: passwd=${b.passwd} shadow=${b.shadow}`);
      // --user asks every backend; the first that could not work unprivileged is named.
      const nobody = { user: 'nobody', uid: 65534, gid: 65534, groups: [] };
      expect(composed.unprivilegedProblem(nobody)).toMatch(new RegExp(`^shadow: -a shadow re-reads ${a.passwd} .* would fail after dropping to nobody: directory ${tmp} \\(mode 700\\) cannot be searched by nobody$`));
    } finally {
      await composed.close();
    }
  });

  it('without -c there is nothing to flush, and 0 fail delay adds no wrapper', async () => {
    const composed = await buildAuthenticator(options(['--fail-delay', '0']), { crypt: new Crypt(1), log });
    expect(composed.cache).toBeNull();
    expect(await composed.flushCache()).toBe(0);
    expect(await composed.authenticate(req('sat_cache_ann', 'pw-a'), signal)).toEqual({ kind: 'ok', compat: 'OK' });
    await composed.close();
  });

  it('puts the request policy outermost: a refused realm costs no check, no fail delay, no penalty (issue 11 item 4)', async () => {
    const composed = await buildAuthenticator(options(['--fail-delay', '2000', '--allow-realm', 'example.com', '-r']), { crypt: new Crypt(1), log });
    try {
      const started = performance.now();
      for (let i = 0; i < 5; i++) {
        expect(await composed.authenticate({ ...req('sat_cache_ann', 'pw-a'), realm: 'example.org' }, signal)).toEqual({
          kind: 'rejected',
          code: 'not-authorized',
          reason: 'realm example.org is not in --allow-realm',
          compat: 'NO authentication failed',
          log: { policy: 'allow-realm' },
        });
      }
      // With the penalty outside the policy, the five NOs would each wait 2 s and hold the next request.
      expect(await composed.authenticate(req('sat_cache_ann', 'pw-a'), signal)).toEqual({ kind: 'ok', compat: 'OK' });
      expect(performance.now() - started).toBeLessThan(1000);
      expect(composed.loginFor({ ...req('sat_cache_ann', 'pw-a'), realm: 'example.com' })).toBe('sat_cache_ann@example.com');
    } finally {
      await composed.close();
    }
  });

  it('fails start-up naming the broken instance, and closes the ones already built', async () => {
    await expect(
      buildAuthenticator(options(['-a', 'shadow,shadow:x', '--link-option', 'shadow:x.shadow-file=/nonexistent/sat_cache']), { crypt: new Crypt(1), log }),
    ).rejects.toThrow(/^shadow:x: /);
  });
});
