/** The client's peer credentials (SO_PEERCRED; groups: SO_PEERGROUPS), when they could be read. */
export type PeerCredentials = { readonly pid: number; readonly uid: number; readonly gid: number; readonly groups?: readonly number[] } | undefined;

/** Who is asking: the connection id every log line of it carries, and its peer. */
export interface ConnectionInfo {
  readonly id: number;
  readonly peer?: PeerCredentials;
}
