import { serveFloor } from './floor-common.js';

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

serveFloor(dir, (l, p, answer) => {
  const want = users.get(l.toString('latin1'));
  answer(want !== undefined && want.equals(p));
});
