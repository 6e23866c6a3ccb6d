import type { PeerCredentials } from './connection-info.js';

export interface AccessPolicy {
  /** Peer uids allowed to connect (`--allow-uid`); empty with allowGids empty means everyone. */
  readonly allowUids: readonly number[];
  /** Peer gids (primary or supplementary) allowed to connect (`--allow-gid`). */
  readonly allowGids: readonly number[];
}

/**
 * Builds the Server's `admit` check: null admits, a string is the reason for refusing. With no list
 * configured every peer is admitted (saslauthd's behaviour; the socket's mode decides). With a list,
 * a peer whose credentials cannot be read is refused: fail closed.
 */
export function admitter(policy: AccessPolicy): ((peer: PeerCredentials) => string | null) | undefined {
  if (policy.allowUids.length === 0 && policy.allowGids.length === 0) return undefined;
  const uids = new Set(policy.allowUids);
  const gids = new Set(policy.allowGids);
  return (peer) => {
    if (!peer) return 'peer credentials (SO_PEERCRED) unavailable and --allow-uid/--allow-gid is set';
    if (uids.has(peer.uid)) return null;
    if (gids.has(peer.gid)) return null;
    for (const g of peer.groups ?? []) if (gids.has(g)) return null;
    return `uid ${peer.uid} gid ${peer.gid} is not in --allow-uid/--allow-gid`;
  };
}
