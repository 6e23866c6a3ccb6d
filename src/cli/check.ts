import type { Command } from 'commander';
import { type Finding, found } from '../auth/check-finding.js';
import { escapeLogLine } from '../log/escape.js';
import { effectiveConfiguration, inapplicableFlags } from './check-flags.js';
import { checkSocketSetup } from './check-start.js';
import type { Daemon } from './daemon.js';

/** Cap on all live probes together (ms); each probe has its backend's own deadline inside it. */
const PROBE_CAP_MS = 30_000;

/**
 * `--check` once the backends are built (which already read their files and config): prints the
 * effective configuration and the composition, then every finding — flags that do nothing, the
 * socket's users, groups and directory, each backend's files and live servers. Returns 1 when
 * anything would make a start or a first request fail, else 0 (warnings included).
 */
export async function runCheck(daemon: Daemon, program: Command, notices: readonly string[]): Promise<number> {
  const o = daemon.options;
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  out('# effective configuration (* = not the default)');
  for (const l of effectiveConfiguration(program, o)) out(l);
  out('# backends, chains and wrappers');
  for (const l of daemon.authenticator.describe()) out(l);
  out(`socket: ${o.runDir}/mux`);
  let findings: Finding[];
  try {
    findings = [
      ...notices.map((n) => found.warning(n)),
      ...inapplicableFlags(program, o),
      ...(await checkSocketSetup(o)),
      ...(await daemon.authenticator.probe(AbortSignal.timeout(Math.min(o.authTimeoutMs, PROBE_CAP_MS)))),
    ];
  } finally {
    await daemon.close();
  }
  out('# checks');
  // Server greetings and file lines end up in these texts: one line each, control bytes escaped.
  for (const f of findings) out(`${f.level}: ${escapeLogLine(f.text)}`);
  const errors = findings.filter((f) => f.level === 'error').length;
  const warnings = findings.filter((f) => f.level === 'warning').length;
  if (errors > 0) {
    out(`configuration NOT OK: ${errors} error(s)${warnings > 0 ? `, ${warnings} warning(s)` : ''}`);
    process.stderr.write(`saslauthd-ts: --check found ${errors} error(s): a start or the first request would fail\n`);
    return 1;
  }
  out(warnings > 0 ? `configuration OK, ${warnings} warning(s)` : 'configuration OK');
  return 0;
}
