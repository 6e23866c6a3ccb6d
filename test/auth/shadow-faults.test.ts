import { closeSync, openSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../src/client/saslauthd-client.js';
import { isOkReply } from '../../src/protocol/index.js';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { type FixtureFiles, writeFixture } from '../fixtures/fixture-users.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { mkpasswd } from '../fixtures/users.js';

// The shadow file is rewritten under load, both as admins' tools do it (write a copy, rename over)
// and as a careless editor does (truncate in place, write in two pieces). Whatever the daemon reads
// in between, it must never say OK to a password that no version of the file accepts, to a locked
// account, or to an expired one whose expiry sits in the part of the line a truncation cuts off.
//
// Extension point: the backend-server faults (slapd, Dovecot killed and restarted during load) go
// in the same shape next to their backends' tests: run `hammer` while a fault loop runs, assert
// no wrong OK, then assert recovery.

const ALICE = { name: 'sat_rel_flt_alice', v1: 'Alice first 1', v2: 'Alice second 2' };
const BOB = { name: 'sat_rel_flt_bob', password: 'Bob locked 3' };
const CAROL = { name: 'sat_rel_flt_carol', password: 'Carol expired 4' };
let fx: FixtureFiles;
let d: RunningDaemon;
let versions: [string, string];

const today = Math.floor(Date.now() / 86_400_000);

async function shadowText(aliceHash: string): Promise<string> {
  return `${ALICE.name}:${aliceHash}:${today}:0:99999:7:::\n` +
    `${BOB.name}:!${await mkpasswd(BOB.password, 'sha-512')}:${today}:0:99999:7:::\n` +
    // expired on day 1; the expiry is the last field, so a cut anywhere in this line could drop it
    `${CAROL.name}:${await mkpasswd(CAROL.password, 'sha-512')}:${today}:0:99999:7::1:\n`;
}

interface Tally { ok: number; no: number; errors: number }

/** Clients that keep asking until `stop` is set; counts verdicts per probe. */
async function hammer(probes: Record<string, { login: string; password: string }>, clients: number, stop: { done: boolean }): Promise<Record<string, Tally>> {
  const tally: Record<string, Tally> = Object.fromEntries(Object.keys(probes).map((k) => [k, { ok: 0, no: 0, errors: 0 }]));
  const keys = Object.keys(probes);
  let n = 0;
  await Promise.all(Array.from({ length: clients }, async () => {
    while (!stop.done) {
      const k = keys[n++ % keys.length]!;
      const p = probes[k]!;
      try {
        const text = await sendRequest(d.socket, { ...p, service: 'imap', realm: '' }, { timeoutMs: 60_000 });
        if (isOkReply(text)) tally[k]!.ok++;
        else tally[k]!.no++;
      } catch {
        tally[k]!.errors++;
      }
    }
  }));
  return tally;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  fx = await writeFixture([{ name: ALICE.name, password: ALICE.v1, method: 'sha-512' }, { name: BOB.name, password: BOB.password, method: 'sha-512' }, { name: CAROL.name, password: CAROL.password, method: 'sha-512' }]);
  versions = [await shadowText(await mkpasswd(ALICE.v1, 'sha-512')), await shadowText(await mkpasswd(ALICE.v2, 'sha-512'))];
  writeFileSync(fx.shadow, versions[0]);
  d = await startOurs(['-a', 'shadow', '--passwd-file', fx.passwd, '--shadow-file', fx.shadow, '-n', '4']);
});
afterAll(async () => {
  await d?.stop();
  fx?.remove();
});

describe('shadow file faults under load', () => {
  it('atomic replacement and in-place truncation never produce a wrong OK; the daemon recovers', async () => {
    expect(await verdict(d.socket, ALICE.name, ALICE.v1)).toBe('OK');
    const stop = { done: false };
    const load = hammer({
      aliceV1: { login: ALICE.name, password: ALICE.v1 },
      aliceV2: { login: ALICE.name, password: ALICE.v2 },
      aliceNever: { login: ALICE.name, password: 'Alice never valid' },
      bobLocked: { login: BOB.name, password: BOB.password },
      carolExpired: { login: CAROL.name, password: CAROL.password },
    }, 16, stop);
    let replaced = 0;
    let truncated = 0;
    for (let round = 0; round < 60; round++) {
      const text = versions[round % 2]!;
      if (round % 3 === 0) {
        // Mid-write: truncated, then written in two pieces with a pause at a random byte.
        const cut = Math.floor(Math.random() * text.length);
        const fd = openSync(fx.shadow, 'w');
        writeSync(fd, text.slice(0, cut));
        await sleep(15);
        writeSync(fd, text.slice(cut));
        closeSync(fd);
        truncated++;
      } else {
        writeFileSync(`${fx.shadow}.new`, text, { mode: 0o600 });
        renameSync(`${fx.shadow}.new`, fx.shadow);
        replaced++;
      }
      await sleep(20);
    }
    stop.done = true;
    const t = await load;
    expect(replaced).toBeGreaterThan(0);
    expect(truncated).toBeGreaterThan(0);
    // Never a wrong OK.
    expect(t['aliceNever']!.ok).toBe(0);
    expect(t['bobLocked']!.ok).toBe(0);
    expect(t['carolExpired']!.ok).toBe(0);
    // Every request got an answer, and both of Alice's passwords were accepted at some point.
    for (const k of Object.keys(t)) expect(t[k]!.errors, k).toBe(0);
    expect(t['aliceV1']!.ok + t['aliceV2']!.ok).toBeGreaterThan(0);
    // The daemon really did read files caught mid-write (otherwise this test proved nothing).
    expect(d.output().match(/last line has no newline/g)?.length ?? 0).toBeGreaterThan(0);
    // Recovery: back to version 1, and the daemon follows at once.
    writeFileSync(`${fx.shadow}.new`, versions[0], { mode: 0o600 });
    renameSync(`${fx.shadow}.new`, fx.shadow);
    expect(await verdict(d.socket, ALICE.name, ALICE.v1)).toBe('OK');
    expect(await verdict(d.socket, ALICE.name, ALICE.v2)).toBe('NO');
  });

  it('a missing shadow file answers NO (not OK, not a crash) and recovers when it is back', async () => {
    renameSync(fx.shadow, `${fx.shadow}.away`);
    try {
      expect(await verdict(d.socket, ALICE.name, ALICE.v1)).toBe('NO');
      expect(d.output()).toMatch(/cannot read user files: ENOENT/);
    } finally {
      renameSync(`${fx.shadow}.away`, fx.shadow);
    }
    expect(await verdict(d.socket, ALICE.name, ALICE.v1)).toBe('OK');
  });
});
