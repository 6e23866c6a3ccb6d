import { createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

// The floor of a Node.js saslauthd (issue 15): a bare node:net server that accepts, reads the four
// counted fields, checks the login and password against one pair held in memory and answers OK or
// NO. No timers, no logging, no wrappers: whatever our daemon spends per cache hit above this row
// is ours to find. Run as its own process (`node floor-server.js <login> <password> -m <dir>`) so
// the bench reads its CPU from /proc like the daemons'.

const [login, password, flag, dir] = process.argv.slice(2);
if (login === undefined || password === undefined || flag !== '-m' || dir === undefined) {
  process.stderr.write('usage: floor-server LOGIN PASSWORD -m DIR\n');
  process.exit(2);
}
const users = new Map([[login, Buffer.from(password)]]);
const OK = Buffer.from([0, 2, 0x4f, 0x4b]);
const NO = Buffer.from([0, 2, 0x4e, 0x4f]);

/** The four fields once all are whole, or null. */
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

const server = createServer((socket) => {
  let buf: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const f = fields(buf);
    if (!f) return;
    const want = users.get(f[0]!.toString('latin1'));
    socket.end(want && want.equals(f[1]!) ? OK : NO);
  });
  socket.on('error', () => socket.destroy());
});
const path = join(dir, 'mux');
rmSync(path, { force: true });
server.listen({ path, backlog: 4096 });
process.on('SIGTERM', () => server.close(() => process.exit(0)));
