/**
 * Framing between the daemon and `saslauthd_pam_helper` (src/native/pam-helper/pam_helper.cc).
 * Pure: bytes in, frames out; no processes or timers here.
 *
 *   request: u32 BE length | u16-counted service, login, password, rhost | u8 has_rhost
 *   reply:   u32 BE length | u8 stage | i32 BE PAM code | u32 BE fail delay (µs) | u16-counted text
 */
import { HelperProtocolError, InvalidArgumentError } from '../../../errors.js';

/**
 * Where PAM stopped: 'ok' means pam_authenticate and pam_acct_mgmt both returned PAM_SUCCESS and a
 * module asked for the password; 'unasked' means pam_authenticate said yes without asking for it.
 */
export type PamStage = 'ok' | 'start' | 'auth' | 'acct' | 'unasked';

export interface HelperRequest {
  readonly service: string;
  readonly login: string;
  readonly password: Buffer;
  /** PAM_RHOST, or null to leave it unset. */
  readonly rhost: string | null;
}

export interface HelperReply {
  readonly stage: PamStage;
  /** The PAM return code of the call that decided (PAM_SUCCESS = 0). */
  readonly code: number;
  /** The delay PAM asked for after a failure, in microseconds (we apply ours instead). */
  readonly delayUsec: number;
  /** pam_strerror() text; for the log only. */
  readonly text: string;
}

const STAGES: readonly PamStage[] = ['ok', 'start', 'auth', 'acct', 'unasked'];
/** Replies are small; anything bigger means the helper's output is not ours. */
const MAX_REPLY = 4096;

function counted(b: Buffer): Buffer {
  if (b.length > 0xffff) throw new InvalidArgumentError('field too long for the PAM helper protocol');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** The request frame. It holds the password: the caller wipes it once written. */
export function encodeHelperRequest(r: HelperRequest): Buffer {
  const parts = [
    counted(Buffer.from(r.service, 'utf8')),
    counted(Buffer.from(r.login, 'utf8')),
    counted(r.password),
    counted(Buffer.from(r.rhost ?? '', 'utf8')),
    Buffer.from([r.rhost === null ? 0 : 1]),
  ];
  const bodyLength = parts.reduce((n, p) => n + p.length, 0);
  const frame = Buffer.alloc(4 + bodyLength);
  frame.writeUInt32BE(bodyLength, 0);
  let at = 4;
  for (const p of parts) {
    at += p.copy(frame, at);
    // The password's copy must not outlive this call.
    p.fill(0);
  }
  return frame;
}

export { HelperProtocolError };

/** Collects reply frames from the helper's stdout, however the chunks are split. */
export class HelperReplyDecoder {
  #buf: Buffer = Buffer.alloc(0);

  /** Returns the replies completed by `chunk`; throws HelperProtocolError on a malformed frame. */
  push(chunk: Buffer): HelperReply[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: HelperReply[] = [];
    for (;;) {
      if (this.#buf.length < 4) return out;
      const len = this.#buf.readUInt32BE(0);
      if (len < 11 || len > MAX_REPLY) throw new HelperProtocolError(`bad reply length ${len}`);
      if (this.#buf.length < 4 + len) return out;
      const body = this.#buf.subarray(4, 4 + len);
      this.#buf = this.#buf.subarray(4 + len);
      const stage = STAGES[body.readUInt8(0)];
      if (stage === undefined) throw new HelperProtocolError(`bad stage ${body.readUInt8(0)}`);
      const textLen = body.readUInt16BE(9);
      if (11 + textLen !== len) throw new HelperProtocolError('reply text length does not match the frame');
      out.push({
        stage,
        code: body.readInt32BE(1),
        delayUsec: body.readUInt32BE(5),
        text: body.subarray(11).toString('utf8'),
      });
    }
  }
}
