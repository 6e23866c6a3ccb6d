import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../../src/client/saslauthd-client.js';
import { type RunningDaemon, startOurs } from '../../fixtures/daemon.js';
import { listSasldb, saslpasswd } from '../../fixtures/sasldb.js';
import { must } from '../../fixtures/run.js';
import { jsonLines } from '../../fixtures/user-files.js';

// saslpasswd2 rewrites the sasldb in place, without any lock, while thousands of requests for
// users it does not touch run: not one answer may be wrong (a wrong OK, or a NO for the right password).
const HOST = hostname();
const STABLE: ReadonlyArray<readonly [string, string, string]> = [
  ['sat_sd_s1', 'stable one', ''],
  ['sat_sd_s2', 'Zwei ✓ zwei', ''],
  ['sat_sd_s3', 'in a realm', 'example.org'],
];
const REQUESTS = 4000;
const CONCURRENCY = 16;

let dir: string;
let db: string;
let ours: RunningDaemon;
let churn: ChildProcess | undefined;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat_sd-load-');
  db = join(dir, 'sasldb2');
  for (const [u, p, r] of STABLE) await saslpasswd(db, u, p, r || HOST);
  // 3000 more users so the file spans many pages and rewrites move records between them; loaded
  // with db_load (db-util, a dependency of sasl2-bin) because 3000 saslpasswd2 runs take too long.
  const filler = ['VERSION=3', 'format=print', 'type=hash', 'HEADER=END'];
  for (let i = 0; i < 3000; i++) filler.push(` sat_sd_f${i}\\00${HOST}\\00userPassword`, ` filler password ${i}`);
  filler.push('DATA=END', '');
  await must('/usr/bin/db5.3_load', [db], { input: filler.join('\n') });
  expect((await listSasldb(db)).length).toBe(3003);
  // -n 4: lookups are bounded by the worker count; --log-format json to count the outcomes.
  ours = await startOurs(['-a', 'sasldb', '-O', db, '-n', '4', '--log-format', 'json']);
});

afterAll(async () => {
  if (churn?.pid !== undefined && churn.exitCode === null) process.kill(-churn.pid, 'SIGKILL');
  await ours?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Adds, changes and deletes 60 other users in a loop with the real saslpasswd2; counts its runs in `dir/runs`. */
function startChurn(): ChildProcess {
  const script = `
    n=0
    while :; do
      for i in $(seq 1 60); do
        printf 'churn %s %s' "$i" "$n" | /usr/sbin/saslpasswd2 -p -c -f "$0" sat_sd_churn$i || exit 1
        if [ $((i % 3)) = 0 ]; then /usr/sbin/saslpasswd2 -d -f "$0" sat_sd_churn$((i - 1)) || exit 1; fi
        # Renamed into place: the test kills this loop at any moment, and a count half written reads as 0.
        n=$((n + 1)); echo $n > "$1.new" && mv -f "$1.new" "$1"
      done
    done`;
  return spawn('/bin/bash', ['-c', script, db, join(dir, 'runs')], { stdio: 'ignore', detached: true });
}

describe('-a sasldb while saslpasswd2 rewrites the file', () => {
  it(`${REQUESTS} requests during the rewrites: no wrong answer`, { timeout: 240_000 }, async () => {
    churn = startChurn();
    await new Promise((r) => setTimeout(r, 300)); // the loop is running before the first request
    const wrong: string[] = [];
    let okCount = 0;
    let noCount = 0;
    let next = 0;
    const started = Date.now();
    const worker = async (): Promise<void> => {
      while (next < REQUESTS) {
        const i = next++;
        const [login, password, realm] = STABLE[i % STABLE.length]!;
        const right = i % 2 === 0;
        const reply = await sendRequest(ours.socket, { login, password: right ? password : `${password}x`, service: 'imap', realm });
        if (reply === 'OK') okCount++;
        else noCount++;
        if (reply !== (right ? 'OK' : 'NO authentication failed')) wrong.push(`#${i} ${login} ${right ? 'right' : 'wrong'} password -> ${reply}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const ms = Date.now() - started;
    expect(churn.exitCode).toBeNull(); // saslpasswd2 kept running (and succeeding) throughout
    process.kill(-churn.pid!, 'SIGKILL');
    const runs = Number(readFileSync(join(dir, 'runs'), 'utf8'));
    const outcomes = jsonLines(ours.output()).filter((l) => typeof l['outcome'] === 'string');
    const unavailable = outcomes.filter((l) => l['outcome'] === 'unavailable').length;
    const reread = outcomes.filter((l) => typeof l['sasldb_reads'] === 'number').length;
    console.log(`sasldb rewrite load: ${REQUESTS} requests in ${ms} ms (${okCount} OK, ${noCount} NO, ${unavailable} unavailable, ${reread} read again) during ${runs} saslpasswd2 runs`);
    expect(wrong).toEqual([]);
    expect(runs).toBeGreaterThan(20);
  });
});
