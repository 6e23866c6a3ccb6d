import { type Socket, connect } from 'node:net';

/** A raw client for hostile-input tests: collects every byte the daemon sends and when it closes. */
export interface RawClient {
  readonly socket: Socket;
  write(bytes: Uint8Array): void;
  /** Bytes received so far. */
  received(): Buffer;
  /** Resolves with all received bytes once the daemon has closed (EOF or reset). */
  closed: Promise<Buffer>;
}

export function rawConnect(path: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<Buffer>((res) => {
      socket.on('end', () => {
        socket.end();
        res(Buffer.concat(chunks));
      });
      socket.on('close', () => res(Buffer.concat(chunks)));
    });
    socket.on('error', () => {});
    socket.once('connect', () =>
      resolve({
        socket,
        write: (b) => socket.write(b),
        received: () => Buffer.concat(chunks),
        closed,
      }),
    );
    socket.once('error', reject);
  });
}
