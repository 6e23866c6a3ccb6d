import { RimapError } from './errors.js';
import { type Response, capabilitiesIn, encodeArgument, printable, saslPlain } from './imap-codec.js';
import type { ImapConnection, TlsSettings } from './imap-connection.js';
import type { RimapTarget } from './target.js';
import { UnreachableError } from '../../../errors.js';
import type { Abortable } from '../../request-signal.js';

/** Which command carries the credentials: `auto` prefers AUTHENTICATE PLAIN when the server offers it. */
export const RIMAP_AUTH_MODES = ['auto', 'plain', 'login'] as const;
export type RimapAuthMode = (typeof RIMAP_AUTH_MODES)[number];

export interface DialogueSettings {
  /** Upgrade plaintext connections with STARTTLS even when the server does not demand it. */
  readonly starttls: boolean;
  readonly tls: TlsSettings;
  readonly auth: RimapAuthMode;
  /** Milliseconds each read may wait (capped by the exchange deadline). */
  readonly readTimeoutMs: number;
}

/** The server's answer to the credentials. */
export type Verdict =
  | { readonly kind: 'ok'; readonly via: 'AUTHENTICATE PLAIN' | 'LOGIN' }
  | { readonly kind: 'no'; readonly via: 'AUTHENTICATE PLAIN' | 'LOGIN'; readonly code: string | null; readonly text: string };

type Tagged = Extract<Response, { kind: 'tagged' }>;

// Above this the LITERAL- extension (RFC 7888) requires the synchronizing form.
const LITERAL_MINUS_MAX = 4096;

/**
 * One login conversation on an open connection: greeting, capabilities, optional STARTTLS,
 * AUTHENTICATE PLAIN or LOGIN, verdict. Throws RimapError for everything that is not a verdict.
 * `credentialsSent` tells the caller whether trying another server could count as a second attempt.
 */
export class LoginDialogue {
  credentialsSent = false;
  #caps: ReadonlySet<string> = new Set<string>();
  #tag = 0;
  #bye: string | null = null;

  constructor(
    readonly conn: ImapConnection,
    private readonly target: RimapTarget,
    private readonly s: DialogueSettings,
    /** End of the exchange, ms since the epoch. */
    private deadline: number,
    private signal: Abortable,
  ) {}

  /** Hands a prepared (spare) conversation to a request with its own deadline and signal. */
  bind(deadline: number, signal: Abortable): void {
    this.deadline = deadline;
    this.signal = signal;
  }

  /** Everything before the credentials: greeting, capabilities, STARTTLS when configured or demanded. */
  async prepare(): Promise<void> {
    await this.#greeting();
    if (!this.conn.secure && (this.s.starttls || this.#caps.has('LOGINDISABLED'))) await this.#startTls();
  }

  async run(login: Buffer, password: Buffer): Promise<Verdict> {
    await this.prepare();
    return this.authenticate(login, password);
  }

  /** Sends the credentials on a prepared conversation and returns the server's verdict. */
  async authenticate(login: Buffer, password: Buffer): Promise<Verdict> {
    const plainOffered = this.#caps.has('AUTH=PLAIN');
    const useLogin = this.s.auth === 'login' || (this.s.auth === 'auto' && !plainOffered);
    if (useLogin) {
      if (this.#caps.has('LOGINDISABLED')) throw new RimapError('unavailable', 'server disables LOGIN on this connection (LOGINDISABLED)');
      return this.#login(login, password);
    }
    if (!plainOffered) throw new RimapError('protocol', 'server does not offer AUTHENTICATE PLAIN (AUTH=PLAIN), which --rimap-auth plain requires');
    return this.#authenticatePlain(login, password);
  }

  /**
   * `--check`: asks CAPABILITY on the prepared conversation (after STARTTLS when that happened) and
   * says which login command a request would use, or why none would work. Sends no credentials.
   */
  async probe(): Promise<{ caps: readonly string[]; problem: string | null; via: string }> {
    await this.#capability();
    const caps = [...this.#caps];
    const plainOffered = this.#caps.has('AUTH=PLAIN');
    const useLogin = this.s.auth === 'login' || (this.s.auth === 'auto' && !plainOffered);
    if (useLogin) {
      return { caps, via: 'LOGIN', problem: this.#caps.has('LOGINDISABLED') ? 'server disables LOGIN on this connection (LOGINDISABLED)' : null };
    }
    return { caps, via: 'AUTHENTICATE PLAIN', problem: plainOffered ? null : 'server does not offer AUTH=PLAIN, which --rimap-auth plain requires' };
  }

  /** Sends LOGOUT and half-closes; the server's goodbye is not parsed (the verdict is already known). */
  logout(): void {
    this.conn.finish(`${this.#nextTag()} LOGOUT\r\n`);
  }

  #readDeadline(): number {
    return Math.min(Date.now() + this.s.readTimeoutMs, this.deadline);
  }

  async #read(): Promise<Response> {
    try {
      return await this.conn.read(this.#readDeadline(), this.signal);
    } catch (e) {
      if (e instanceof RimapError && e.reason === 'closed' && this.#bye !== null) {
        throw new RimapError('unavailable', `server said BYE: ${printable(this.#bye)}`);
      }
      throw e;
    }
  }

  #nextTag(): string {
    return `A${++this.#tag}`;
  }

  async #greeting(): Promise<void> {
    const g = await this.#read();
    if (g.kind === 'untagged' && g.status === 'OK') {
      const caps = capabilitiesIn(g);
      if (caps) this.#caps = caps;
      else await this.#capability();
      return;
    }
    if (g.kind === 'untagged' && (g.status === 'BYE' || g.status === 'NO')) {
      throw new RimapError('unavailable', `server refused service in its greeting: ${g.status} ${printable(g.text)}`);
    }
    if (g.kind === 'untagged' && g.status === 'PREAUTH') {
      throw new RimapError('protocol', 'server greeted with PREAUTH (already authenticated); it cannot check a password');
    }
    throw new RimapError('protocol', `unexpected greeting: ${printable(greetingText(g))}`);
  }

  async #capability(): Promise<void> {
    this.#caps = new Set();
    const tag = this.#nextTag();
    this.conn.write(`${tag} CAPABILITY\r\n`);
    const r = await this.#untilTagged(tag, null);
    if (r.status !== 'OK') throw new RimapError('protocol', `CAPABILITY failed: ${r.status} ${printable(r.text)}`);
  }

  async #startTls(): Promise<void> {
    if (!this.#caps.has('STARTTLS')) {
      const why = this.s.starttls ? '--rimap-starttls is set' : 'it disables plaintext LOGIN (LOGINDISABLED)';
      throw new RimapError('tls', `server does not offer STARTTLS, but ${why}; refusing to send the password in clear`);
    }
    const tag = this.#nextTag();
    this.conn.write(`${tag} STARTTLS\r\n`);
    const r = await this.#untilTagged(tag, null);
    if (r.status !== 'OK') throw new RimapError('tls', `server refused STARTTLS: ${r.status} ${printable(r.text)}`);
    await this.conn.startTls(this.target, this.s.tls, this.#readDeadline(), this.signal);
    // RFC 3501 6.2.1: capabilities seen before TLS cannot be trusted and must be asked again.
    await this.#capability();
  }

  async #authenticatePlain(login: Buffer, password: Buffer): Promise<Verdict> {
    const via = 'AUTHENTICATE PLAIN';
    const tag = this.#nextTag();
    const b64 = saslPlain(login, password);
    if (this.#caps.has('SASL-IR')) {
      this.credentialsSent = true;
      this.conn.write(`${tag} AUTHENTICATE PLAIN ${b64}\r\n`);
      return this.#verdict(via, await this.#untilTagged(tag, 'refuse'));
    }
    this.conn.write(`${tag} AUTHENTICATE PLAIN\r\n`);
    let first: Tagged | 'continue';
    first = await this.#untilTaggedOrContinuation(tag);
    if (first !== 'continue') return this.#verdict(via, first);
    this.credentialsSent = true;
    this.conn.write(`${b64}\r\n`);
    return this.#verdict(via, await this.#untilTagged(tag, 'refuse'));
  }

  async #login(login: Buffer, password: Buffer): Promise<Verdict> {
    const via = 'LOGIN';
    const both = login.length + password.length;
    const nonSync = this.#caps.has('LITERAL+') || (this.#caps.has('LITERAL-') && both <= LITERAL_MINUS_MAX);
    const user = encodeArgument(login, nonSync);
    const pass = encodeArgument(password, nonSync);
    const tag = this.#nextTag();
    // Pieces to write; after a synchronizing literal header the server must say "+" before the bytes.
    const pieces: { bytes: Buffer; thenWait: boolean }[] = [];
    let head = Buffer.from(`${tag} LOGIN `, 'latin1');
    for (const [i, arg] of [user, pass].entries()) {
      const sep = Buffer.from(i === 0 ? ' ' : '\r\n', 'latin1');
      if (arg.kind === 'quoted') {
        head = Buffer.concat([head, arg.bytes, sep]);
      } else if (arg.nonSync) {
        head = Buffer.concat([head, arg.header, arg.bytes, sep]);
      } else {
        pieces.push({ bytes: Buffer.concat([head, arg.header]), thenWait: true });
        head = Buffer.concat([arg.bytes, sep]);
      }
    }
    pieces.push({ bytes: head, thenWait: false });
    this.credentialsSent = true;
    for (const p of pieces) {
      this.conn.write(p.bytes);
      if (!p.thenWait) break;
      const r = await this.#untilTaggedOrContinuation(tag);
      if (r !== 'continue') return this.#verdict(via, r);
    }
    return this.#verdict(via, await this.#untilTagged(tag, 'refuse'));
  }

  #verdict(via: Verdict['via'], r: Tagged): Verdict {
    if (r.status === 'OK') return { kind: 'ok', via };
    if (r.status === 'NO') return { kind: 'no', via, code: r.code, text: r.text };
    throw new RimapError('protocol', `server said BAD to ${via}: ${printable(r.text)}`);
  }

  async #untilTaggedOrContinuation(tag: string): Promise<Tagged | 'continue'> {
    for (;;) {
      const r = await this.#read();
      if (r.kind === 'continuation') return 'continue';
      const t = this.#handle(r, tag);
      if (t) return t;
    }
  }

  /**
   * Reads until the tagged response to `tag`, skipping untagged lines. A continuation there is a SASL
   * challenge we did not expect: cancel it (`*`) and count the exchange as broken.
   */
  async #untilTagged(tag: string, onContinuation: 'refuse' | null): Promise<Tagged> {
    for (;;) {
      const r = await this.#read();
      if (r.kind === 'continuation') {
        if (onContinuation === 'refuse') this.conn.write('*\r\n');
        throw new RimapError('protocol', `unexpected continuation from the server: + ${printable(r.text)}`);
      }
      const t = this.#handle(r, tag);
      if (t) return t;
    }
  }

  /** Untagged lines are allowed anywhere; returns the tagged response when it is ours. */
  #handle(r: Response, tag: string): Tagged | null {
    switch (r.kind) {
      case 'tagged':
        if (r.tag !== tag) throw new RimapError('protocol', `response for a command we did not send: ${printable(r.tag)}`);
        {
          const caps = capabilitiesIn(r);
          if (caps && r.status === 'OK' && !this.credentialsSent) this.#caps = caps;
        }
        return r;
      case 'untagged': {
        const caps = capabilitiesIn(r);
        if (caps) this.#caps = caps;
        if (r.status === 'BYE') this.#bye = r.text;
        return null;
      }
      case 'garbage':
        throw new RimapError('protocol', `not an IMAP response: ${printable(r.text)}`);
      case 'continuation':
        throw new RimapError('protocol', `unexpected continuation from the server: + ${printable(r.text)}`);
      default: {
        const never: never = r;
        throw new UnreachableError(`unhandled response ${String(never)}`);
      }
    }
  }
}

function greetingText(r: Response): string {
  switch (r.kind) {
    case 'continuation':
      return `+ ${r.text}`;
    case 'untagged':
      return `* ${r.status ?? ''} ${r.text}`;
    case 'tagged':
      return `${r.tag} ${r.status} ${r.text}`;
    case 'garbage':
      return r.text;
    default:
      return '';
  }
}
