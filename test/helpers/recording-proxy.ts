import { chmodSync } from 'node:fs';
import { type Server, type Socket, connect, createServer } from 'node:net';

/** A TCP proxy the test owns: forwards to a real server and records what clients sent it. */
export interface RecordingProxy {
  readonly port: number;
  /** Bytes each client connection sent, in connection order. */
  readonly sessions: Buffer[][];
  /** Most client connections active at the same time (from accept until the client's FIN or close). */
  readonly maxConcurrent: number;
  sent(): string[];
  close(): Promise<void>;
}

export async function startRecordingProxy(listenPort: number, targetHost: string, targetPort: number): Promise<RecordingProxy> {
  const sessions: Buffer[][] = [];
  const sockets = new Set<Socket>();
  let open = 0;
  let maxConcurrent = 0;
  const server: Server = createServer((client) => {
    const record: Buffer[] = [];
    sessions.push(record);
    open++;
    maxConcurrent = Math.max(maxConcurrent, open);
    const upstream = connect({ host: targetHost, port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (d: Buffer) => {
      record.push(d);
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    let active = true;
    const inactive = (): void => {
      if (!active) return;
      active = false;
      open--;
    };
    client.on('end', inactive);
    let closed = false;
    const done = (): void => {
      if (closed) return;
      closed = true;
      inactive();
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', done);
    upstream.on('close', done);
    client.on('error', done);
    upstream.on('error', done);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  return {
    port: listenPort,
    sessions,
    get maxConcurrent() {
      return maxConcurrent;
    },
    sent: () => sessions.map((s) => Buffer.concat(s).toString('latin1')),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A UNIX-socket proxy in front of a saslauthd socket: records each client's bytes, forwards them. */
export interface UnixRecordingProxy {
  readonly path: string;
  /** Bytes each client connection sent, in connection order. */
  sent(): Buffer[];
  close(): Promise<void>;
}

export async function startUnixRecordingProxy(listenPath: string, targetPath: string, mode = 0o666): Promise<UnixRecordingProxy> {
  const sessions: Buffer[][] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const record: Buffer[] = [];
    sessions.push(record);
    const upstream = connect({ path: targetPath, allowHalfOpen: true });
    sockets.add(client).add(upstream);
    client.on('data', (d: Buffer) => {
      record.push(d);
      upstream.write(d);
    });
    client.on('end', () => upstream.end());
    upstream.on('data', (d: Buffer) => client.write(d));
    upstream.on('end', () => client.end());
    const done = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', done);
    upstream.on('close', done);
    client.on('error', done);
    upstream.on('error', done);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPath, () => resolve());
  });
  chmodSync(listenPath, mode);
  return {
    path: listenPath,
    sent: () => sessions.map((s) => Buffer.concat(s)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
