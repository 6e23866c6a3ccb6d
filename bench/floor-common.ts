import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

// What the floor servers (floor-server.ts, ldap-floor-server.ts, rimap-floor-server.ts) share: the
// bare protocol around a decision, with no timers, logging or wrappers (issue 15).

const OK = Buffer.from([0, 2, 0x4f, 0x4b]);
const NO = Buffer.from([0, 2, 0x4e, 0x4f]);

/** The four counted fields once all are whole, or null. */
function fields(b: Buffer): Buffer[] | null {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < 4; i++) {
    if (b.length < at + 2) return null;
    const n = b.readUInt16BE(at);
    if (b.length < at + 2 + n) return null;
    out.push(b.subarray(at + 2, at + 2 + n));
    at += 2 + n;
  }
  return out;
}

/**
 * Listens on `<dir>/mux`; for each whole request, `decide` gets login and password and calls `answer`
 * (at once or later) with the verdict, which is sent as `OK` or `NO`. Exits on SIGTERM.
 */
export function serveFloor(dir: string, decide: (login: Buffer, password: Buffer, answer: (ok: boolean) => void) => void): void {
  const server = createServer((socket) => {
    let buf: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const f = fields(buf);
      if (!f) return;
      decide(f[0]!, f[1]!, (ok) => socket.end(ok ? OK : NO));
    });
    socket.on('error', () => socket.destroy());
  });
  const path = join(dir, 'mux');
  rmSync(path, { force: true });
  server.listen({ path, backlog: 4096 });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
