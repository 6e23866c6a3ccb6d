import { mkdtempSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../../fixtures/daemon.js';
import { removePlaceholder, saslpasswd, startRealSasldb } from '../../fixtures/sasldb.js';
import { verdict } from '../../fixtures/testsaslauthd.js';
import { userFiles } from '../../fixtures/user-files.js';

const HOST = hostname();
let dir: string;
let db: string;
let chained: RunningDaemon;
let cachedOurs: RunningDaemon;
let cachedReal: RunningDaemon;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat_sd-chain-');
  db = join(dir, 'sasldb2');
  await saslpasswd(db, 'sat_sd_a', 'sasldb only', HOST);
  await saslpasswd(db, 'sat_sd_both', 'sasldb pw', HOST);
  await saslpasswd(db, 'sat_sd_cache', 'old pw', HOST);
  const files = await userFiles(join(dir, 'shadow'), { sat_sd_sh: 'shadow only', sat_sd_both: 'shadow pw' });
  [chained, cachedOurs, cachedReal] = await Promise.all([
    startOurs(['-a', 'sasldb,shadow', '-O', db, '--passwd-file', files.passwd, '--shadow-file', files.shadow, '--route', 'smtp=shadow']),
    startOurs(['-a', 'sasldb', '-O', db, '-c']),
    startRealSasldb(db, ['-c']),
  ]);
});

afterAll(async () => {
  await Promise.all([chained?.stop(), cachedOurs?.stop(), cachedReal?.stop()]);
  removePlaceholder();
  rmSync(dir, { recursive: true, force: true });
});

describe('-a sasldb in a chain and a route', () => {
  it('an unknown sasldb user goes on to shadow; a wrong sasldb password does not', async () => {
    expect(await verdict(chained.socket, 'sat_sd_a', 'sasldb only')).toBe('OK');
    expect(await verdict(chained.socket, 'sat_sd_sh', 'shadow only')).toBe('OK');
    expect(await verdict(chained.socket, 'sat_sd_both', 'sasldb pw')).toBe('OK');
    expect(await verdict(chained.socket, 'sat_sd_both', 'shadow pw')).toBe('NO'); // sasldb said "wrong password": the chain stops
    expect(await verdict(chained.socket, 'sat_sd_nobody', 'x')).toBe('NO');
  });

  it('--route smtp=shadow keeps smtp away from sasldb', async () => {
    expect(await verdict(chained.socket, 'sat_sd_a', 'sasldb only', { service: 'smtp' })).toBe('NO');
    expect(await verdict(chained.socket, 'sat_sd_sh', 'shadow only', { service: 'smtp' })).toBe('OK');
  });
});

describe('-a sasldb -c, differential against the real saslauthd -a sasldb -c', () => {
  async function both(pw: string, service = 'imap'): Promise<[string, string]> {
    return [await verdict(cachedReal.socket, 'sat_sd_cache', pw, { service }), await verdict(cachedOurs.socket, 'sat_sd_cache', pw, { service })];
  }

  it('password change: the old one answers from the cache until the new one is used', async () => {
    expect(await both('old pw')).toEqual(['OK', 'OK']);
    expect(await both('wrong')).toEqual(['NO', 'NO']);
    await saslpasswd(db, 'sat_sd_cache', 'new pw', HOST);
    expect(await both('old pw')).toEqual(['OK', 'OK']); // cached in both
    expect(await both('old pw', 'smtp')).toEqual(['NO', 'NO']); // not cached for this service
    expect(await both('new pw')).toEqual(['OK', 'OK']);
    expect(await both('old pw')).toEqual(['NO', 'NO']);
  });
});
