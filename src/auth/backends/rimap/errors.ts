/** Why one exchange with the IMAP server failed; the backend maps each code to an outcome. */
export type RimapErrorCode =
  /** TCP connect failed, was refused, or the name did not resolve. */
  | 'connect'
  /** The TLS handshake failed (including certificate verification). */
  | 'tls'
  /** A read, the connect or the whole exchange passed its deadline. */
  | 'timeout'
  /** The server closed the connection before answering. */
  | 'closed'
  /** A line longer than the reader accepts, or a socket error mid-exchange. */
  | 'sync'
  /** The server sent something IMAP does not allow here. */
  | 'protocol'
  /** The server refused service (`* BYE`, `* NO` greeting, `NO [UNAVAILABLE]`). */
  | 'unavailable'
  /** Too many requests waiting for a connection slot to this server. */
  | 'overloaded'
  /** The request's signal aborted. */
  | 'aborted';

export class RimapError extends Error {
  constructor(
    readonly code: RimapErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RimapError';
  }
}
