import { createRequire } from 'node:module';
import { rmSync } from 'node:fs';

interface RecvSocket {
  on(ev: 'message', cb: (buf: Buffer) => void): void;
  on(ev: 'error', cb: (err: Error) => void): void;
  bind(path: string): void;
  close(): void;
}
const require = createRequire(import.meta.url);
const unixDgram = require('unix-dgram') as { createSocket(type: 'unix_dgram'): RecvSocket };

/** A datagram socket bound at a path that records what arrives (a stand-in for systemd's notify socket or /dev/log). */
export interface DatagramSink {
  readonly path: string;
  readonly messages: string[];
  /** Resolves with the first message (already received or later) that matches; rejects after timeoutMs. */
  waitFor(pred: (m: string) => boolean, timeoutMs?: number, what?: string): Promise<string>;
  close(): void;
}

export function datagramSink(path: string, onMessage?: (m: string) => void): DatagramSink {
  rmSync(path, { force: true });
  const sock = unixDgram.createSocket('unix_dgram');
  const messages: string[] = [];
  const waiters: { pred: (m: string) => boolean; resolve: (m: string) => void }[] = [];
  sock.on('message', (buf) => {
    const m = buf.toString();
    messages.push(m);
    onMessage?.(m);
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  sock.on('error', () => {});
  sock.bind(path);
  return {
    path,
    messages,
    waitFor(pred, timeoutMs = 20_000, what = 'datagram') {
      const seen = messages.find(pred);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no matching ${what} within ${timeoutMs} ms; got: ${JSON.stringify(messages)}`));
        }, timeoutMs);
        const w = {
          pred,
          resolve: (m: string) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        waiters.push(w);
      });
    },
    close() {
      sock.close();
      rmSync(path, { force: true });
    },
  };
}
