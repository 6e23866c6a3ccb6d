import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../../src/client/saslauthd-client.js';
import { type RunningDaemon, startOurs } from '../../fixtures/daemon.js';
import { childrenOf, eventually, processesMatching, removePamService, writePamService } from '../../fixtures/pam.js';
import { must } from '../../fixtures/run.js';
import { ensureUser, mkpasswd, removeUser } from '../../fixtures/users.js';

// PAM stacks that misbehave (hang, kill their process group, abort) next to a healthy pam_unix one.
// Each misbehaving request must get NO, its helper must be replaced, and nothing else may notice.
const DIR = '/tmp/sat-pam-iso';
const GOOD = 'sat-pam-iso-unix';
const SLEEP = 'sat-pam-iso-sleep';
const KILLPG = 'sat-pam-iso-killpg';
const ABORT = 'sat-pam-iso-abort';
const USER = { name: 'sat_pam_iso', password: 'Iso pw 7' };
// A sleep nobody else runs, so a leaked one is easy to find.
const SLEEP_MARK = 'sleep 313';

const ABORT_MODULE = `
#include <stdlib.h>
#include <security/pam_modules.h>
int pam_sm_authenticate(pam_handle_t *h, int f, int c, const char **v) { (void)h; (void)f; (void)c; (void)v; abort(); }
int pam_sm_setcred(pam_handle_t *h, int f, int c, const char **v) { (void)h; (void)f; (void)c; (void)v; return PAM_SUCCESS; }
`;

beforeAll(async () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  writeFileSync(`${DIR}/sleep.sh`, `#!/bin/sh\n${SLEEP_MARK}\n`);
  // pam_exec starts its script in a session of its own, so `kill 0` there would only hit the script.
  // What we guard against is a module killing the process group it runs in: the helper's. Without
  // the helper's own process group, that would be the daemon's.
  writeFileSync(`${DIR}/killpg.sh`, '#!/bin/sh\npg=$(ps -o pgid= -p $PPID | tr -d " ")\nkill -9 -"$pg"\n');
  chmodSync(`${DIR}/sleep.sh`, 0o755);
  chmodSync(`${DIR}/killpg.sh`, 0o755);
  writeFileSync(`${DIR}/pam_sat_abort.c`, ABORT_MODULE);
  await must('gcc', ['-shared', '-fPIC', '-o', `${DIR}/pam_sat_abort.so`, `${DIR}/pam_sat_abort.c`]);
  writePamService(GOOD, 'auth required pam_unix.so\naccount required pam_unix.so\n');
  writePamService(SLEEP, `auth required pam_exec.so ${DIR}/sleep.sh\naccount required pam_permit.so\n`);
  writePamService(KILLPG, `auth required pam_exec.so ${DIR}/killpg.sh\naccount required pam_permit.so\n`);
  writePamService(ABORT, `auth required ${DIR}/pam_sat_abort.so\naccount required pam_permit.so\n`);
  await ensureUser(USER.name, await mkpasswd(USER.password, 'sha-512'));
});

afterAll(async () => {
  for (const s of [GOOD, SLEEP, KILLPG, ABORT]) removePamService(s);
  await removeUser(USER.name);
  rmSync(DIR, { recursive: true, force: true });
});

const helpersOf = (d: RunningDaemon): number[] =>
  childrenOf(d.proc.pid!).filter((c) => c.cmd.includes('saslauthd_pam_helper')).map((c) => c.pid);

const ask = (d: RunningDaemon, login: string, password: string, service: string) =>
  sendRequest(d.socket, { login, password, service, realm: '' }, { timeoutMs: 60_000 });

describe('a misbehaving PAM stack costs only its own request', () => {
  let d: RunningDaemon;
  beforeAll(async () => {
    d = await startOurs(['-a', 'pam', '-n', '2', '--pam-timeout', '2000', '--pam-fail-delay', '0']);
    await eventually(() => helpersOf(d).length === 2, 15_000, 'two helpers');
  });
  afterAll(async () => {
    const pids = helpersOf(d);
    await d?.stop();
    await eventually(() => pids.every((p) => processesMatching('saslauthd_pam_helper').indexOf(p) < 0), 15_000, 'helpers gone after stop');
  });

  it.each([
    [SLEEP, 'timeout', /PAM did not answer within 2000 ms; helper killed and replaced/],
    [KILLPG, 'killed its own process group', /PAM helper died during the conversation \(killed by SIGKILL\); replaced/],
    [ABORT, 'abort()', /PAM helper died during the conversation \(killed by SIGABRT\); replaced/],
  ])('%s (%s): that request NO, the helper replaced, parallel requests unaffected', async (service, _what, reason) => {
    const before = helpersOf(d);
    const bad = ask(d, USER.name, USER.password, service);
    const others = Array.from({ length: 8 }, (_, i) =>
      i % 4 === 3 ? ask(d, USER.name, 'wrong', GOOD).then((r) => ['wrong', r]) : ask(d, USER.name, USER.password, GOOD).then((r) => ['good', r]),
    );
    expect(await bad).toBe('NO authentication failed');
    for (const [kind, reply] of await Promise.all(others)) expect(reply).toBe(kind === 'good' ? 'OK' : 'NO authentication failed');
    expect(d.output()).toMatch(reason);
    await eventually(() => helpersOf(d).length === 2, 15_000, 'pool back to two helpers');
    const after = helpersOf(d);
    expect(after.filter((p) => !before.includes(p)).length).toBeGreaterThanOrEqual(1);
    // The daemon is still serving, and nothing the stack started is left behind.
    expect(await ask(d, USER.name, USER.password, GOOD)).toBe('OK');
    await eventually(() => processesMatching(SLEEP_MARK).length === 0, 15_000, 'no leaked pam_exec script');
  });
});

describe('200 concurrent PAM requests', () => {
  it('all get the right answer and leave exactly -n helpers behind, none after stop', async () => {
    const d = await startOurs(['-a', 'pam', '-n', '5', '--pam-fail-delay', '500']);
    try {
      await eventually(() => helpersOf(d).length === 5, 15_000, 'five helpers');
      const before = helpersOf(d).sort();
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) => {
          const wrong = i % 4 === 1;
          return ask(d, USER.name, wrong ? `wrong ${i}` : USER.password, GOOD).then((r) => [wrong, r] as const);
        }),
      );
      for (const [wrong, r] of replies) expect(r).toBe(wrong ? 'NO authentication failed' : 'OK');
      expect(helpersOf(d).sort()).toEqual(before);
      expect(d.output()).not.toContain('PAM helper gone');
      await d.stop();
      await eventually(() => before.every((p) => !processesMatching('saslauthd_pam_helper').includes(p)), 15_000, 'helpers gone after stop');
    } finally {
      await d.stop();
    }
  });
});

describe('bounded queue', () => {
  it('answers NO at once when every helper is busy and the queue is full', async () => {
    const d = await startOurs(['-a', 'pam', '-n', '1', '--pam-queue', '2', '--pam-timeout', '8000', '--pam-fail-delay', '0']);
    try {
      await eventually(() => helpersOf(d).length === 1, 15_000, 'one helper');
      const order: string[] = [];
      const track = (name: string, p: Promise<string>) => p.then((r) => order.push(`${name}:${r}`));
      const hang = track('hang', ask(d, USER.name, USER.password, SLEEP));
      await eventually(() => processesMatching(SLEEP_MARK).length > 0, 15_000, 'the sleeping stack to hold the helper');
      const queued = [track('q1', ask(d, USER.name, USER.password, GOOD)), track('q2', ask(d, USER.name, USER.password, GOOD))];
      await eventually(() => (d.output().match(/first request for service 'sat-pam-iso-unix'/g) ?? []).length === 1, 15_000, 'queued');
      await new Promise((r) => setTimeout(r, 300));
      const over = await ask(d, USER.name, USER.password, GOOD);
      order.push(`over:${over}`);
      await Promise.all([hang, ...queued]);
      expect(order).toEqual(['over:NO authentication failed', 'hang:NO authentication failed', 'q1:OK', 'q2:OK']);
      expect(d.output()).toMatch(/\[reason=all PAM helpers busy and 2 requests already waiting\] conn=\d+ outcome=unavailable code=overloaded /);
    } finally {
      await d.stop();
    }
  });
});

describe('daemon killed with SIGKILL', () => {
  it('takes its helpers with it, even one stuck in a module', async () => {
    const d = await startOurs(['-a', 'pam', '-n', '1', '--pam-timeout', '60000']);
    await eventually(() => helpersOf(d).length === 1, 15_000, 'one helper');
    const [helper] = helpersOf(d);
    const hung = ask(d, USER.name, USER.password, SLEEP).catch(() => 'connection lost');
    await eventually(() => processesMatching(SLEEP_MARK).length > 0, 15_000, 'the sleeping stack to hold the helper');
    const sleepers = processesMatching(SLEEP_MARK);
    await d.stop('SIGKILL');
    await hung;
    await eventually(() => !processesMatching('saslauthd_pam_helper').includes(helper!), 15_000, 'the helper to die with the daemon');
    // The script pam_exec started lives in a session of its own; nobody is left to kill it but us.
    for (const p of sleepers) process.kill(p, 'SIGKILL');
  });
});
