import { type Server as NetServer, type Socket, createServer } from 'node:net';
import type { Logger } from 'pino';
import { peerCredentialsOf } from '../native/peercred.js';
import { escapeLogValue } from '../log/escape.js';
import { type ControlReply, type ControlRequest, MAX_CONTROL_REQUEST, encodeControl, parseControlRequest } from '../protocol/control.js';

/** Answers one control request; may throw (the reply then says why). */
export type ControlHandler = (req: ControlRequest) => Promise<unknown>;

export interface ControlServerOptions {
  /** Ms a peer has to send its whole request line (Default: 5000). */
  readonly requestTimeoutMs?: number;
  /** Ms a command may take before the reply says it timed out (Default: 60000; a reload builds backends). */
  readonly commandTimeoutMs?: number;
  /** Ms the reply may take to go out before the connection is cut (Default: 5000). */
  readonly replyTimeoutMs?: number;
}

/** One line per command for the log: what an admin asked, never a secret (commands carry none). */
function describeRequest(r: ControlRequest): string {
  switch (r.cmd) {
    case 'penalty.clear':
      return `penalty clear ${'all' in r.target ? '--all' : 'user' in r.target ? `user=${escapeLogValue(r.target.user)}` : `address=${escapeLogValue(r.target.address)}`}`;
    case 'cache.flush':
      return r.user !== undefined ? `cache flush user=${escapeLogValue(r.user)}` : 'cache flush';
    default:
      return r.cmd.replace('.', ' ');
  }
}

/**
 * The control socket's listener: root only. The file is 0600 root (socket-file.ts), and every peer
 * is checked again with SO_PEERCRED, so a wrong mode (an admin's chmod, a default ACL) still lets
 * nobody else in. One request per connection, each phase under its own deadline.
 */
export class ControlServer {
  readonly #net: NetServer;
  readonly #open = new Set<Socket>();
  #nextId = 1;

  constructor(
    private readonly handle: ControlHandler,
    private readonly log: Logger,
    private readonly options: ControlServerOptions = {},
  ) {
    this.#net = createServer({ allowHalfOpen: true }, (s) => this.#accept(s));
    this.#net.on('error', (err) => this.log.error({ err: err.message }, 'control socket error'));
  }

  listen(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#net.once('error', reject);
      this.#net.listen({ path, backlog: 16 }, () => {
        this.#net.off('error', reject);
        resolve();
      });
    });
  }

  #accept(socket: Socket): void {
    const id = `ctl-${this.#nextId++}`;
    const peer = peerCredentialsOf(socket, false);
    if (peer === undefined || peer.uid !== 0) {
      this.log.warn({ conn: id, peer_uid: peer?.uid, peer_pid: peer?.pid }, `control connection refused: peer uid ${peer?.uid ?? 'unknown'} is not root`);
      socket.destroy();
      return;
    }
    this.#open.add(socket);
    socket.once('close', () => this.#open.delete(socket));
    socket.on('error', () => socket.destroy());
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (why: string, reply: boolean): void => {
      socket.removeAllListeners('data');
      this.log.warn({ conn: id, peer_pid: peer.pid }, `control request refused: ${why}`);
      if (reply) this.#reply(socket, { ok: false, error: why });
      else socket.destroy();
    };
    socket.setTimeout(this.options.requestTimeoutMs ?? 5000, () => fail('no whole request line in time', false));
    socket.on('data', (b: Buffer) => {
      const nl = b.indexOf(0x0a);
      size += nl >= 0 ? nl + 1 : b.length;
      if (size > MAX_CONTROL_REQUEST) return fail(`request longer than ${MAX_CONTROL_REQUEST} bytes`, false);
      if (nl < 0) {
        chunks.push(b);
        return;
      }
      chunks.push(b.subarray(0, nl));
      socket.removeAllListeners('data');
      socket.setTimeout(0);
      socket.pause();
      const parsed = parseControlRequest(Buffer.concat(chunks).toString('utf8'));
      if (!parsed.ok) return fail(`malformed request (${parsed.reason})`, true);
      void this.#run(id, socket, parsed.request, peer.pid);
    });
    socket.on('end', () => {
      if (socket.listenerCount('data') > 0) fail('connection closed before a whole request line', false);
    });
  }

  async #run(id: string, socket: Socket, req: ControlRequest, pid: number): Promise<void> {
    this.log.info({ conn: id, peer_pid: pid, command: req.cmd }, `control: ${describeRequest(req)}`);
    let timer: NodeJS.Timeout | undefined;
    const ms = this.options.commandTimeoutMs ?? 60_000;
    const deadline = new Promise<ControlReply>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, error: `no result within ${ms} ms` }), ms);
    });
    const work = this.handle(req).then(
      (result): ControlReply => ({ ok: true, result }),
      (e: unknown): ControlReply => ({ ok: false, error: (e as Error).message }),
    );
    const reply = await Promise.race([work, deadline]);
    clearTimeout(timer);
    this.#reply(socket, reply);
  }

  #reply(socket: Socket, reply: ControlReply): void {
    if (socket.destroyed) return;
    socket.setTimeout(this.options.replyTimeoutMs ?? 5000, () => socket.destroy());
    socket.end(encodeControl(reply));
  }

  /** Stops accepting and cuts the control connections left (their replies do not matter at shutdown). */
  async close(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.#net.close(() => resolve()));
    for (const s of this.#open) s.destroy();
    await stopped;
  }
}
