import type { Socket } from 'node:net';
import { native } from './binding.js';

/** Who connected, as the kernel recorded it at connect() time. */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  /** Primary group. */
  readonly gid: number;
  /** Supplementary groups (SO_PEERGROUPS); empty on kernels without it, or when not asked for. */
  readonly groups: readonly number[];
}

/**
 * SO_PEERCRED of an accepted UNIX socket, or undefined when it cannot be read (no fd, not a UNIX
 * socket). Node exposes the descriptor only on the internal handle; that is the one place we touch it.
 */
export function peerCredentialsOf(socket: Socket, withGroups = true): PeerCredentials | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  if (!withGroups) {
    if (native.peerCredentialsInto(fd, triple) !== 0) return undefined;
    return { pid: triple[0]!, uid: triple[1]!, gid: triple[2]!, groups: NO_GROUPS };
  }
  try {
    return native.peerCredentials(fd);
  } catch {
    return undefined;
  }
}

/** Filled by every call without groups, then copied out: no object is built in C++ per accept. */
const triple = new Uint32Array(3);
const NO_GROUPS: readonly number[] = Object.freeze([]);
