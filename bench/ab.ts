import { Command } from 'commander';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startProcess } from '../test/fixtures/daemon.js';
import { type Probe, runLoad } from '../test/fixtures/load.js';
import { treeCpuMs } from './daemons.js';
import { ldapScenario, ldapScenarioConf } from './scenarios/ldap.js';
import { RIMAP_BENCH_TARGET, rimapScenario } from './scenarios/rimap.js';
import { benchUser, removeBenchUser } from './scenarios/shadow.js';

// A/B of two builds of saslauthd-ts under the cache-hit load (docs/performance.md): each round
// starts build A, warms it up, measures CPU per request from /proc, stops it, then the same for B.
// Back-to-back pairs cancel most of the drift of a shared machine; the medians and the paired
// differences are printed. A build is a directory holding bin/ and dist/ (a copy of a checkout
// after `npm run build`, with node_modules and build/ linked in).
//   node dist-bench/bench/ab.js --rounds 6 /tmp/old-build /work/checkout -- -a shadow -c -n 5
// With --ldap, the load is the ldap-bind row's (its slapd, users and saslauthd.conf; -O is added):
//   node dist-bench/bench/ab.js --ldap /tmp/old-build /work/checkout -- -a ldap --fail-delay 0
// With --rimap, the rimap row's (its Dovecot and user; -O is added):
//   node dist-bench/bench/ab.js --rimap /tmp/old-build /work/checkout -- -a rimap

const USER = 'sat_ab_bench';
const PASSWORD = 'ab bench pw';

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function cpuPerRequest(root: string, args: readonly string[], probes: readonly Probe[], c: number, count: number): Promise<number> {
  const d = await startProcess(process.execPath, [join(root, 'bin', 'saslauthd-ts'), ...args], { keepOutput: 4096 });
  try {
    await runLoad(d.socket, probes, { concurrency: c, count: Number.MAX_SAFE_INTEGER, seconds: 3 });
    const cpu0 = treeCpuMs(d.pid);
    const r = await runLoad(d.socket, probes, { concurrency: c, count, seconds: 30 });
    if (r.wrong + r.errors > 0) throw new Error(`${root}: ${r.wrong} wrong answers, ${r.errors} errors`);
    return (treeCpuMs(d.pid) - cpu0) / r.requests;
  } finally {
    await d.stop();
  }
}

async function main(): Promise<void> {
  const program = new Command('ab')
    .argument('<a>', 'build A (directory with bin/ and dist/)')
    .argument('<b>', 'build B')
    .argument('[args...]', 'daemon arguments after --', ['-a', 'shadow', '-c', '-n', '5'])
    .option('--rounds <n>', 'pairs to run', '6')
    .option('--concurrency <n>', 'clients', '8')
    .option('--count <n>', 'measured requests per run', '15000')
    .option('--ldap', "the ldap-bind row's slapd and probes instead of the shadow user")
    .option('--rimap', "the rimap row's Dovecot and probe instead of the shadow user")
    .parse(process.argv.slice(2), { from: 'user' });
  const [a, b, given] = program.processedArgs as [string, string, string[]];
  const o = program.opts<{ rounds: string; concurrency: string; count: string; ldap?: boolean; rimap?: boolean }>();
  let probes: readonly Probe[];
  let args = given;
  if (o.ldap) {
    probes = await ldapScenario.setup();
    args = [...given, '-O', ldapScenarioConf()];
  } else if (o.rimap) {
    probes = await rimapScenario.setup();
    args = [...given, '-O', RIMAP_BENCH_TARGET];
  } else {
    await benchUser(USER, PASSWORD, 'yescrypt');
    probes = [{ request: { login: USER, password: PASSWORD, service: 'imap', realm: '' }, expect: 'OK' }];
  }
  try {
    console.log(`load average at start ${loadavg().map((n) => n.toFixed(2)).join(' ')}`);
    const ra: number[] = [];
    const rb: number[] = [];
    for (let i = 0; i < Number(o.rounds); i++) {
      ra.push(await cpuPerRequest(a, args, probes, Number(o.concurrency), Number(o.count)));
      rb.push(await cpuPerRequest(b, args, probes, Number(o.concurrency), Number(o.count)));
      console.log(`round ${i + 1}: A ${ra.at(-1)!.toFixed(4)}  B ${rb.at(-1)!.toFixed(4)} ms CPU/req`);
    }
    const diffs = ra.map((x, i) => rb[i]! - x);
    console.log(`A median ${median(ra).toFixed(4)}, B median ${median(rb).toFixed(4)} ms CPU/req; B - A paired median ${median(diffs).toFixed(4)} ms, B lower in ${diffs.filter((d) => d < 0).length} of ${diffs.length}`);
    console.log(`load average at end ${loadavg().map((n) => n.toFixed(2)).join(' ')}`);
  } finally {
    if (o.ldap) await ldapScenario.teardown();
    else if (o.rimap) await rimapScenario.teardown();
    else await removeBenchUser(USER);
  }
}

await main();
