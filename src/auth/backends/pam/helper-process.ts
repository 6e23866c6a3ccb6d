import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { killProcessTree } from './process-tree.js';
import { type HelperReply, type HelperRequest, HelperReplyDecoder, encodeHelperRequest } from './protocol.js';
import { escapeLogValue } from '../../../log/escape.js';
import { InvariantError } from '../../../errors.js';
import type { Abortable } from '../../request-signal.js';

/** How one request to a helper ended. */
export type HelperResult =
  | { readonly kind: 'reply'; readonly reply: HelperReply }
  /** The helper exited (crash, killed its own process group, abort()) before replying. */
  | { readonly kind: 'died'; readonly why: string }
  /** It passed its deadline and was killed. */
  | { readonly kind: 'timeout' }
  /** The caller gave up (request deadline, shutdown); the helper was killed. */
  | { readonly kind: 'aborted' };

interface InFlight {
  readonly resolve: (r: HelperResult) => void;
  readonly timer: NodeJS.Timeout;
}

/** Longest helper stderr line we log; modules can be chatty. */
const MAX_STDERR_LINE = 500;

/**
 * One `saslauthd_pam_helper` process: one request at a time. It runs in its own session and process
 * group (detached), so a PAM module or pam_exec script that signals its process group reaches the
 * helper and its children, never the daemon; when we kill it, we kill the whole group.
 */
export class PamHelper {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #decoder = new HelperReplyDecoder();
  #current: InFlight | null = null;
  #exited = false;
  #killed = false;
  #served = 0;
  #given = 0;
  #stderr = '';
  readonly spawnedAt = performance.now();

  constructor(
    path: string,
    private readonly log: Logger,
    /** Called once, when the process has gone. */
    private readonly onExit: (h: PamHelper) => void,
  ) {
    this.#child = spawn(path, [], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    this.#child.stdin.on('error', () => {});
    this.#child.stdout.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#child.stderr.on('data', (chunk: Buffer) => this.#onStderr(chunk));
    this.#child.on('error', (e) => this.#gone(`could not run ${path}: ${e.message}`));
    this.#child.on('exit', (code, signal) => this.#gone(signal ? `killed by ${signal}` : `exited with ${code}`));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get busy(): boolean {
    return this.#current !== null;
  }

  get alive(): boolean {
    return !this.#exited;
  }

  /** Requests handed to it so far. */
  get given(): number {
    return this.#given;
  }

  /** Requests answered so far. */
  get served(): number {
    return this.#served;
  }

  /** Sends one request; settles with its reply, or with how the helper failed. Never rejects. */
  run(req: HelperRequest, timeoutMs: number, signal: Abortable): Promise<HelperResult> {
    if (this.#current) throw new InvariantError('PAM helper is busy');
    if (this.#exited) return Promise.resolve({ kind: 'died', why: 'helper had already exited' });
    this.#given++;
    return new Promise<HelperResult>((resolve) => {
      const onAbort = (): void => {
        this.#finish({ kind: 'aborted' });
        this.kill();
      };
      const timer = setTimeout(() => {
        this.#finish({ kind: 'timeout' });
        this.kill();
      }, timeoutMs);
      this.#current = {
        resolve: (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
        timer,
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      const frame = encodeHelperRequest(req);
      // The frame holds the password: wipe it once the pipe has taken it, not before.
      this.#child.stdin.write(frame, () => frame.fill(0));
    });
  }

  /** SIGKILL to the helper, its process group and everything it started. Idempotent. */
  kill(): void {
    this.#killed = true;
    const pid = this.#child.pid;
    if (pid === undefined) return;
    if (this.#exited) {
      // Already reaped: only what is left in its group can still be reached.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is empty.
      }
      return;
    }
    killProcessTree(pid);
  }

  /** Ends an idle helper politely: EOF on stdin makes it exit; the group is killed to be sure. */
  close(): void {
    this.#child.stdin.end();
    this.kill();
  }

  #finish(r: HelperResult): void {
    const cur = this.#current;
    if (!cur) return;
    this.#current = null;
    clearTimeout(cur.timer);
    cur.resolve(r);
  }

  #onData(chunk: Buffer): void {
    // A reply that was already on its way when we killed the helper belongs to a request we answered.
    if (this.#killed) return;
    let replies: HelperReply[];
    try {
      replies = this.#decoder.push(chunk);
    } catch (e) {
      this.log.error({ helper: this.pid, err: (e as Error).message }, 'PAM helper sent a malformed reply; killing it');
      this.#finish({ kind: 'died', why: `malformed reply: ${(e as Error).message}` });
      this.kill();
      return;
    }
    for (const reply of replies) {
      if (!this.#current) {
        this.log.error({ helper: this.pid }, 'PAM helper replied with no request in flight; killing it');
        this.kill();
        return;
      }
      this.#served++;
      this.#finish({ kind: 'reply', reply });
    }
  }

  #onStderr(chunk: Buffer): void {
    this.#stderr += chunk.toString('utf8');
    let nl: number;
    while ((nl = this.#stderr.indexOf('\n')) >= 0) {
      this.#logStderr(this.#stderr.slice(0, nl));
      this.#stderr = this.#stderr.slice(nl + 1);
    }
    if (this.#stderr.length > MAX_STDERR_LINE) {
      this.#logStderr(this.#stderr);
      this.#stderr = '';
    }
  }

  #logStderr(line: string): void {
    if (line.trim() !== '') this.log.warn({ helper: this.pid }, `PAM helper stderr: ${escapeLogValue(line.slice(0, MAX_STDERR_LINE))}`);
  }

  #gone(why: string): void {
    if (this.#exited) return;
    this.#exited = true;
    // Whatever the helper left behind in its group (a sleeping pam_exec script) goes with it.
    this.kill();
    this.#finish({ kind: 'died', why });
    this.onExit(this);
  }
}
