/**
 * Hostile clients for the reliability tests and `npm run stress`: each opens many connections to a
 * saslauthd socket and misbehaves in one way. They only measure what the client side sees; the
 * daemon's side (fds, RSS) is read from /proc by `procStats`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { encodeRequest } from '../protocol/index.js';

export interface Crowd {
  /** Connections that were established. */
  readonly opened: () => number;
  /** Connections the daemon closed (or reset) while we still wanted them. */
  readonly closedByServer: () => number;
  /** Indexes (in opening order) of the connections the daemon closed. */
  readonly closedOrder: () => readonly number[];
  /** Replies received (bytes seen from the daemon), for floods that expect one. */
  readonly replies: () => number;
  /** Connections whose every write reached the daemon's side before it closed them. */
  readonly fullyWritten: () => number;
  /** Closes every connection we still hold and resolves once all are closed. */
  stop(): Promise<void>;
}

interface CrowdOptions {
  /** Connections to open. */
  readonly count: number;
  /** Connections opened at once while ramping up (Default: 200). */
  readonly batch?: number;
  /** Called once per connection when it is established. */
  readonly onConnect: (s: Socket, index: number, wrote: (err?: Error | null) => void) => void;
  /** Pause reading (half-open client that never reads its reply). */
  readonly neverRead?: boolean;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function crowd(path: string, o: CrowdOptions): Promise<Crowd> {
  const sockets = new Set<Socket>();
  const closedOrder: number[] = [];
  let opened = 0;
  let replies = 0;
  let fullyWritten = 0;
  let stopping = false;
  const batch = o.batch ?? 200;
  const closedAll: Array<Promise<void>> = [];
  for (let start = 0; start < o.count; start += batch) {
    const wave: Array<Promise<void>> = [];
    for (let i = start; i < Math.min(o.count, start + batch); i++) {
      wave.push(
        new Promise<void>((ready) => {
          const s = connect({ path });
          sockets.add(s);
          closedAll.push(new Promise<void>((done) => s.once('close', () => done())));
          s.once('connect', () => {
            opened++;
            if (o.neverRead) s.pause();
            o.onConnect(s, i, (err) => {
              if (!err) fullyWritten++;
            });
            ready();
          });
          s.on('data', () => replies++);
          s.on('error', () => {});
          s.once('close', () => {
            sockets.delete(s);
            if (!stopping) closedOrder.push(i);
            ready();
          });
        }),
      );
    }
    await Promise.all(wave);
  }
  return {
    opened: () => opened,
    closedByServer: () => closedOrder.length,
    closedOrder: () => closedOrder,
    replies: () => replies,
    fullyWritten: () => fullyWritten,
    stop: async () => {
      stopping = true;
      for (const s of sockets) s.destroy();
      await Promise.all(closedAll);
    },
  };
}

/** A valid request (for an unknown user) that a slowloris client trickles a byte at a time. */
const TRICKLE = encodeRequest(['sat_slowloris', 'not-a-password', 'smtp', '']);

/** Slowloris: each connection sends one byte of a request every `intervalMs`, never finishing in time. */
export async function slowloris(path: string, count: number, intervalMs: number): Promise<Crowd> {
  const timers = new Set<NodeJS.Timeout>();
  const c = await crowd(path, {
    count,
    onConnect: (s) => {
      let at = 0;
      const t = setInterval(() => {
        // Stops one byte short of a whole request, so it is never served.
        if (s.destroyed || at >= TRICKLE.length - 1) return;
        s.write(TRICKLE.subarray(at, at + 1));
        at++;
      }, intervalMs);
      timers.add(t);
      s.once('close', () => {
        clearInterval(t);
        timers.delete(t);
      });
    },
  });
  return {
    ...c,
    stop: async () => {
      for (const t of timers) clearInterval(t);
      await c.stop();
    },
  };
}

/** Connections that connect and send nothing. */
export function idle(path: string, count: number): Promise<Crowd> {
  return crowd(path, { count, onConnect: () => {} });
}

/** Clients that send a whole request and then never read the reply and never close. */
export function halfOpen(path: string, count: number, request = encodeRequest(['sat_halfopen', 'wrong', 'smtp', ''])): Promise<Crowd> {
  return crowd(path, { count, neverRead: true, onConnect: (s) => s.write(request) });
}

/** Frames claiming 65535-byte fields, followed by `junkBytes` of junk. */
export function oversized(path: string, count: number, junkBytes = 65_536, moreJunkBytes = 0): Promise<Crowd> {
  const frame = Buffer.alloc(2 + junkBytes, 0x41);
  frame.writeUInt16BE(0xffff, 0);
  const more = Buffer.alloc(moreJunkBytes, 0x42);
  return crowd(path, {
    count,
    onConnect: (s, _i, wrote) => {
      // Keeps flooding after the frame, as fast as the daemon reads; `wrote` reports whether it all went through.
      s.write(more.length > 0 ? Buffer.concat([frame, more]) : frame, wrote);
    },
  });
}

/** Open file descriptors and resident memory of a process, from /proc. */
export function procStats(pid: number): { fds: number; rssKiB: number } {
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m);
  return { fds, rssKiB: m ? Number(m[1]) : NaN };
}

/** Polls until `pid` has at most `fds` descriptors open, or `timeoutMs` passes; returns the last count. */
export async function waitForFds(pid: number, fds: number, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  let n = procStats(pid).fds;
  while (n > fds && Date.now() < until) {
    await pause(50);
    n = procStats(pid).fds;
  }
  return n;
}
