import { connect } from 'node:net';
import { serveFloor } from './floor-common.js';

// The floor of a Node.js rimap (issue 15): a bare node:net server that reads the four fields and,
// like saslauthd's rimap, opens a fresh TCP connection to the IMAP server for each request, waits
// for the greeting, sends `LOGIN "user" "password"`, reads the tagged answer, sends LOGOUT and
// closes. No timers, logging, penalty or parsing beyond the tag. What our rimap row costs above
// this row is ours; what this row costs above saslauthd's is Node's TCP client.
//   node rimap-floor-server.js HOST PORT -m DIR

const [host, port, flag, dir] = process.argv.slice(2);
if (host === undefined || port === undefined || flag !== '-m' || dir === undefined) {
  process.stderr.write('usage: rimap-floor-server HOST PORT -m DIR\n');
  process.exit(2);
}
const quoted = (b: Buffer): string => `"${b.toString('latin1').replace(/[\\"]/g, (c) => `\\${c}`)}"`;

/** One IMAP LOGIN on a fresh connection: true for `a OK`. */
function imapLogin(login: Buffer, password: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port: Number(port) });
    let text = '';
    let greeted = false;
    s.setEncoding('latin1');
    s.on('data', (chunk: string) => {
      text += chunk;
      if (!greeted) {
        if (!text.includes('\r\n')) return;
        greeted = true;
        text = '';
        s.write(`a LOGIN ${quoted(login)} ${quoted(password)}\r\n`);
        return;
      }
      const m = /(?:^|\r\n)a (OK|NO|BAD)/.exec(text);
      if (m === null || !text.endsWith('\r\n')) return;
      s.end('b LOGOUT\r\n');
      resolve(m[1] === 'OK');
    });
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(false));
  });
}

serveFloor(dir, (login, password, answer) => void imapLogin(login, password).then(answer));
