import { connect } from 'node:net';
import { type ControlReply, type ControlRequest, MAX_CONTROL_REPLY, encodeControl } from '../protocol/control.js';
import { ControlError } from '../errors.js';

/**
 * One control request (`saslauthd-ts ctl`): connect, send one line, read the reply line until the
 * daemon closes, all within `timeoutMs`. Rejects with ControlError naming the socket when it could
 * not ask; a daemon-side refusal comes back as `{ ok: false }`.
 */
export function controlRequest(path: string, req: ControlRequest, timeoutMs: number): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: ControlError | null, reply?: ControlReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(() => finish(new ControlError(`${path}: no reply within ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => socket.write(encodeControl(req)));
    socket.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_CONTROL_REPLY) return finish(new ControlError(`${path}: reply longer than ${MAX_CONTROL_REPLY} bytes`));
      chunks.push(b);
    });
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text === '') return finish(new ControlError(`${path}: the daemon closed the connection without a reply (not root? see its log)`));
      try {
        const v = JSON.parse(text) as ControlReply;
        if (typeof v !== 'object' || v === null || typeof v.ok !== 'boolean') throw new ControlError('not a reply object');
        finish(null, v);
      } catch {
        finish(new ControlError(`${path}: the daemon sent a reply that is not a control reply`));
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' ? ' (no daemon running with this -m, or it runs without root: no control socket)'
        : e.code === 'EACCES' ? ' (the control socket is root only)'
        : e.code === 'ECONNREFUSED' ? ' (no daemon listening: a stale socket file)' : '';
      finish(new ControlError(`cannot reach the control socket ${path}: ${e.message}${hint}`));
    });
  });
}
