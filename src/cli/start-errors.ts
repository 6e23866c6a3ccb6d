import type { DaemonOptions } from './daemon-options.js';
import { BackendStartError, ConfigError } from '../errors.js';
import { userName } from '../server/ids.js';

/** What a failed system call was doing, in the admin's words. */
function attempt(e: NodeJS.ErrnoException & { address?: string }): string | null {
  const path = e.path ?? e.address;
  if (path === undefined) return null;
  switch (e.syscall) {
    case 'open':
    case 'read':
      return `reading ${path}`;
    case 'mkdir':
      return `creating ${path}`;
    case 'chown':
    case 'lchown':
      return `giving ${path} its group`;
    case 'bind':
    case 'listen':
      return `creating the socket ${path}`;
    case 'rename':
    case 'unlink':
      return `writing in the directory of ${path}`;
    default:
      return `${e.syscall ?? 'using'} ${path}`;
  }
}

/** The first EACCES/EPERM along an error's cause chain. */
function permissionError(e: unknown): (NodeJS.ErrnoException & { address?: string }) | null {
  for (let c: unknown = e, i = 0; c instanceof Error && i < 8; c = c.cause, i++) {
    const code = (c as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') return c as NodeJS.ErrnoException;
  }
  return null;
}

/**
 * An error's message, plus, when it is a permission error and we are not root, that the daemon
 * needs root and what for: a bare `EPERM … lchown` does not tell an admin who started it by hand
 * as themselves what to change.
 */
export function withRootHint(e: unknown, uid: number = process.getuid?.() ?? 0): string {
  const message = (e as Error).message;
  const perm = permissionError(e);
  if (uid === 0 || perm === null) return message;
  const who = `${userName(uid) ?? 'uid'} (uid ${uid})`;
  const what = attempt(perm) ?? 'this';
  return `${message}. saslauthd-ts is running as ${who}, not root: ${what} needs root. Start it as root ` +
    '(it binds its socket in a root-owned run directory, reads /etc/shadow, and runs PAM; --user drops root after binding)';
}

/** Where a backend is used, when it is not the -a chain: the --route that named it. */
function usedBy(name: string, o: DaemonOptions): string {
  if (o.chain.includes(name)) return '';
  const route = o.routes.find((r) => r.chain.includes(name));
  if (route === undefined) return '';
  return ` (for --route ${route.on === 'realm' ? 'realm:' : ''}${route.value}=${route.chain.join(',')})`;
}

/**
 * The start-up failure for Daemon.create: a backend that failed is named itself, with the --route
 * that uses it (not the -a chain, which may be a different backend); other errors (--allow-uid,
 * --user) already name their flag.
 */
export function startError(e: unknown, o: DaemonOptions): string {
  if (e instanceof BackendStartError && e.backend !== null) {
    const config = e.cause instanceof ConfigError ? ` ${e.backend.split(':')[0]} configuration` : '';
    return `failed to initialize mechanism ${e.backend}${usedBy(e.backend, o)}:${config} ${withRootHint(e)}`;
  }
  return withRootHint(e);
}
