import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { ROOT } from './paths.js';
import { must, run } from './run.js';

/**
 * Copies the project's own files (tracked, or new and not ignored; no test/) to `dest`, so a
 * package build can clean and rebuild there without touching the tree the tests run from.
 */
export async function copySource(dest: string): Promise<void> {
  mkdirSync(dest, { recursive: true });
  const files = (await must('git', ['-C', ROOT, 'ls-files', '-co', '--exclude-standard']))
    .split('\n').filter((f) => f !== '' && !f.startsWith('test/'));
  await new Promise<void>((resolve, reject) => {
    const tar = spawn('sh', ['-c', `tar -C '${ROOT}' -cf - -T - | tar -C '${dest}' -xf -`], { stdio: ['pipe', 'ignore', 'inherit'] });
    tar.on('error', reject);
    tar.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`copying the source to ${dest}: tar exited ${code}`))));
    tar.stdin.end(files.join('\n'));
  });
}

/** Runs a long command with its output in `log` (the error quotes the tail), bounded by `timeoutMs`. */
export async function mustLogged(cmd: string, args: readonly string[], opts: { cwd?: string; log: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<string> {
  const r = await run('sh', ['-c', `cd "$1" && shift && exec "$@" >>"$0" 2>&1`, opts.log, opts.cwd ?? '/', cmd, ...args], { timeoutMs: opts.timeoutMs, env: opts.env });
  const out = readFileSync(opts.log, 'utf8');
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}; last lines of ${opts.log}:\n${out.split('\n').slice(-40).join('\n')}`);
  return out;
}

/** The values of `Key=` in a unit file, in order (continuation lines are not used by our units). */
export function unitValues(unitText: string, key: string): string[] {
  return unitText.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1).trim());
}

/**
 * The command a service unit runs, as systemd would run it here without PID 1: ExecStart's argv
 * under setpriv with the unit's capability bounding set and NoNewPrivileges, and its UMask.
 */
export function commandOfUnit(unitText: string): string[] {
  const exec = unitValues(unitText, 'ExecStart');
  if (exec.length !== 1) throw new Error(`expected one ExecStart= line, found ${exec.length}`);
  const argv = (exec[0] as string).replace(/^[-@:+!]+/, '').split(/\s+/);
  const caps = unitValues(unitText, 'CapabilityBoundingSet').flatMap((v) => v.split(/\s+/)).filter((c) => c !== '');
  if (caps.some((c) => c.startsWith('~'))) throw new Error('CapabilityBoundingSet=~… (a deny list) is not handled by this test');
  const setpriv = ['setpriv', '--bounding-set', ['-all', ...caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',')];
  if (unitValues(unitText, 'NoNewPrivileges').includes('yes')) setpriv.push('--no-new-privs');
  const umask = unitValues(unitText, 'UMask')[0] ?? '0022';
  return ['/bin/sh', '-c', `umask ${umask} && exec "$@"`, 'sh', ...setpriv, '--', ...argv];
}
