import { type Socket, connect } from 'node:net';
import { serveFloor } from './floor-common.js';

// The floor of a Node.js LDAP backend (issue 15): a bare node:net server that reads the four fields
// and does what `ldap_auth_method: bind` does, on connections held open: a search for (uid=<login>)
// under BASE on one connection bound as the service DN, then a simple bind as the DN found on one of
// a few bind connections. The LDAP messages are encoded and read by hand (BER, a few lines each);
// no timers, logging, penalty or pool bookkeeping. What our ldap row costs above this row is ours and
// ldapts'; what this row costs above saslauthd's is Node's.
//   node ldap-floor-server.js HOST PORT BASE SERVICE_DN SERVICE_PW -m DIR

const [host, port, base, serviceDn, servicePw, flag, dir] = process.argv.slice(2);
if (host === undefined || port === undefined || base === undefined || serviceDn === undefined || servicePw === undefined || flag !== '-m' || dir === undefined) {
  process.stderr.write('usage: ldap-floor-server HOST PORT BASE SERVICE_DN SERVICE_PW -m DIR\n');
  process.exit(2);
}
const BIND_CONNECTIONS = 8;

// --- BER, the few forms LDAP needs here ---
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), content]);
}
const int = (tag: number, n: number): Buffer => {
  const bytes: number[] = [];
  do {
    bytes.unshift(n & 0xff);
    n >>>= 8;
  } while (n > 0);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(tag, Buffer.from(bytes));
};
const octets = (v: Buffer | string, tag = 0x04): Buffer => tlv(tag, Buffer.isBuffer(v) ? v : Buffer.from(v));
const message = (id: number, op: Buffer): Buffer => tlv(0x30, Buffer.concat([int(0x02, id), op]));
const bindRequest = (dn: Buffer | string, pw: Buffer | string): Buffer => tlv(0x60, Buffer.concat([int(0x02, 3), octets(dn), octets(pw, 0x80)]));
const searchRequest = (login: Buffer): Buffer =>
  tlv(0x63, Buffer.concat([octets(base), int(0x0a, 2), int(0x0a, 0), int(0x02, 2), int(0x02, 0), tlv(0x01, Buffer.from([0])), tlv(0xa3, Buffer.concat([octets('uid'), octets(login)])), tlv(0x30, octets('1.1'))]));

/** Tag, and where the content of the element at `at` starts and ends; null when `b` holds less. */
function element(b: Buffer, at: number): { tag: number; start: number; end: number } | null {
  if (b.length < at + 2) return null;
  let len = b[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const k = len & 0x7f;
    if (b.length < start + k) return null;
    len = 0;
    for (let i = 0; i < k; i++) len = len * 256 + b[start + i]!;
    start += k;
  }
  return b.length < start + len ? null : { tag: b[at]!, start, end: start + len };
}

/** One LDAP connection: messages out, replies routed to their message id's handler. */
class Conn {
  readonly #s: Socket;
  #buf: Buffer = Buffer.alloc(0);
  #next = 1;
  readonly #waiting = new Map<number, (op: number, body: Buffer) => boolean>();

  constructor() {
    this.#s = connect({ host, port: Number(port) });
    this.#s.setNoDelay(true);
    this.#s.on('data', (chunk: Buffer) => this.#read(chunk));
    this.#s.on('error', (e) => {
      process.stderr.write(`ldap floor: ${e.message}\n`);
      process.exit(1);
    });
  }

  /** Sends `op`; `onReply` gets each reply's protocolOp tag and content until it returns true. */
  send(op: Buffer, onReply: (op: number, body: Buffer) => boolean): void {
    const id = this.#next++;
    this.#waiting.set(id, onReply);
    this.#s.write(message(id, op));
  }

  #read(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    for (;;) {
      const m = element(this.#buf, 0);
      if (m === null) return;
      const idEl = element(this.#buf, m.start)!;
      let id = 0;
      for (let i = idEl.start; i < idEl.end; i++) id = id * 256 + this.#buf[i]!;
      const op = element(this.#buf, idEl.end)!;
      const done = this.#waiting.get(id)?.(op.tag, this.#buf.subarray(op.start, op.end));
      if (done) this.#waiting.delete(id);
      this.#buf = this.#buf.subarray(m.end);
    }
  }
}

/** resultCode, the first element of an LDAPResult. */
const resultCode = (body: Buffer): number => body[element(body, 0)!.start]!;

const search = new Conn();
const binders = Array.from({ length: BIND_CONNECTIONS }, () => new Conn());
const idle = [...binders];
const queued: ((c: Conn) => void)[] = [];
const withBinder = (f: (c: Conn) => void): void => void (idle.length > 0 ? f(idle.pop()!) : queued.push(f));
const release = (c: Conn): void => (queued.length > 0 ? queued.shift()!(c) : void idle.push(c));

function authenticate(login: Buffer, password: Buffer, answer: (ok: boolean) => void): void {
  const dns: Buffer[] = [];
  search.send(searchRequest(login), (op, body) => {
    if (op === 0x64) {
      const dn = element(body, 0)!;
      dns.push(Buffer.from(body.subarray(dn.start, dn.end)));
      return false;
    }
    if (op !== 0x65) return false; // a referral: ignored
    if (dns.length !== 1 || password.length === 0) {
      answer(false);
      return true;
    }
    withBinder((c) =>
      c.send(bindRequest(dns[0]!, password), (_op, reply) => {
        release(c);
        answer(resultCode(reply) === 0);
        return true;
      }),
    );
    return true;
  });
}

// The search connection binds as the service DN first; requests sent after it are answered after it.
search.send(bindRequest(serviceDn, servicePw), (_op, body) => {
  if (resultCode(body) !== 0) {
    process.stderr.write(`ldap floor: service bind refused (${resultCode(body)})\n`);
    process.exit(1);
  }
  return true;
});

// The fields are views of the request buffer: copied, since the answer comes after more reads.
serveFloor(dir, (login, password, answer) => authenticate(Buffer.from(login), Buffer.from(password), answer));
