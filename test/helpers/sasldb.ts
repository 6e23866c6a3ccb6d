import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { type RunningDaemon, type StartOptions, startProcess } from './daemon.js';
import { must, run } from './run.js';

/** Debian's /etc/sasldb2, the only file the real `saslauthd -a sasldb` reads (it ignores -O). */
export const ETC_SASLDB = '/etc/sasldb2';

/** Sets `user`'s password in the sasldb `file` with the real saslpasswd2 (-c creates, or changes). */
export async function saslpasswd(file: string, user: string, password: string, realm?: string): Promise<void> {
  const args = ['-p', '-c', '-f', file];
  if (realm !== undefined) args.push('-u', realm);
  await must('/usr/sbin/saslpasswd2', [...args, user], { input: password });
}

/** Removes `user` from the sasldb `file` with saslpasswd2 -d. */
export async function saslpasswdDelete(file: string, user: string, realm?: string): Promise<void> {
  const args = ['-d', '-f', file];
  if (realm !== undefined) args.push('-u', realm);
  await must('/usr/sbin/saslpasswd2', [...args, user]);
}

/** `user@realm` lines as sasldblistusers2 prints them. */
export async function listSasldb(file: string): Promise<string[]> {
  const r = await run('/usr/sbin/sasldblistusers2', ['-f', file]);
  return r.stdout.split('\n').filter((l) => l !== '');
}

let placeholder = false;

/**
 * The real Debian saslauthd -a sasldb reading `file` as its /etc/sasldb2: in a private mount
 * namespace (unshare -m) with `file` bind-mounted over /etc/sasldb2, so the machine's real file is
 * never touched. A bind mount needs an existing target: if /etc/sasldb2 is absent (it is created by
 * sasl2-bin's postinst, so normally present) an empty placeholder is made and removed by
 * `removePlaceholder`.
 */
export function startRealSasldb(file: string, args: readonly string[] = [], opts: StartOptions = {}): Promise<RunningDaemon> {
  if (!existsSync(ETC_SASLDB)) {
    writeFileSync(ETC_SASLDB, '', { mode: 0o640 });
    placeholder = true;
  }
  const script = `mount --bind "$0" ${ETC_SASLDB} && exec /usr/sbin/saslauthd "$@"`;
  return startProcess('/usr/bin/unshare', ['-m', '--propagation', 'private', '/bin/sh', '-c', script, file, '-a', 'sasldb', '-d', ...args], opts);
}

/** Undoes the placeholder /etc/sasldb2 made by startRealSasldb, if any. */
export function removePlaceholder(): void {
  if (placeholder) rmSync(ETC_SASLDB, { force: true });
  placeholder = false;
}
