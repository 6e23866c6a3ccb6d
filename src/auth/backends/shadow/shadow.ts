import type { Logger } from 'pino';
import type { Crypt } from '../../../native/crypt.js';
import {
  type AccountCheck,
  type AuthRequest,
  type Authenticator,
  type Outcome,
  ok,
  rejected,
  unavailable,
} from '../../authenticator.js';
import { accountState, daysSinceEpoch, parsePasswd, parseShadow, type Parsed, type PasswdEntry, type ShadowEntry } from './shadow-parser.js';
import { type PrivilegeTarget, unreadableBy } from '../../privilege.js';
import { WatchedFile } from './watched-file.js';
import { UnreachableError } from '../../../errors.js';
import { type Finding, found } from '../../check-finding.js';
import type { Abortable } from '../../request-signal.js';

export interface ShadowOptions {
  /** passwd(5) file (Default: /etc/passwd). */
  readonly passwdFile: string;
  /** shadow(5) file (Default: /etc/shadow). */
  readonly shadowFile: string;
  /** Clock in ms since the epoch, for account ageing (Default: Date.now). */
  readonly now?: () => number;
}

// A yescrypt hash of a random throwaway string: what an unknown user is checked against when the
// shadow file offers no real hash to copy the cost of.
const FALLBACK_DUMMY = '$y$j9T$UCt1VTMY9RCN0S4Ze2ONV0$bkxfQNgljQBcDGtimHbJEyH/Sna9iTDYPgjSU/8PGn9';

interface Tables {
  readonly passwd: Parsed<PasswdEntry>;
  readonly shadow: Parsed<ShadowEntry> & { readonly dummyHash: string };
}

function schemeOf(hash: string): string | null {
  if (hash.startsWith('$')) {
    const end = hash.indexOf('$', 1);
    return end > 0 ? hash.slice(0, end + 1) : null;
  }
  return /^[./0-9A-Za-z]{13}$/.test(hash) ? 'des' : null;
}

/** The hash of the most common scheme in the file, so a made-up user costs what a real one does. */
function pickDummy(entries: ReadonlyMap<string, ShadowEntry>): string {
  const byScheme = new Map<string, { count: number; hash: string }>();
  for (const e of entries.values()) {
    const s = schemeOf(e.hash);
    if (s === null) continue;
    const seen = byScheme.get(s);
    if (seen) seen.count++;
    else byScheme.set(s, { count: 1, hash: e.hash });
  }
  let best: { count: number; hash: string } | undefined;
  for (const v of byScheme.values()) if (!best || v.count > best.count) best = v;
  return best?.hash ?? FALLBACK_DUMMY;
}

/** `-a shadow`: /etc/passwd + /etc/shadow and crypt(3), with shadow(5) account ageing. */
export class ShadowAuthenticator implements Authenticator {
  readonly name = 'shadow';
  readonly #passwd: WatchedFile<Parsed<PasswdEntry>>;
  readonly #shadow: WatchedFile<Tables['shadow']>;
  readonly #now: () => number;

  constructor(
    readonly options: ShadowOptions,
    private readonly crypt: Crypt,
    log: Logger,
  ) {
    this.#now = options.now ?? Date.now;
    const report = (file: string) => (p: Parsed<unknown>) => {
      log.info({ file, users: p.entries.size }, 'loaded user file');
      for (const problem of p.problems) log.warn({ file, line: problem.line }, `skipped line: ${problem.message}`);
    };
    this.#passwd = new WatchedFile(options.passwdFile, parsePasswd, report(options.passwdFile));
    this.#shadow = new WatchedFile(
      options.shadowFile,
      (text) => {
        const parsed = parseShadow(text);
        return { ...parsed, dummyHash: pickDummy(parsed.entries) };
      },
      report(options.shadowFile),
    );
  }

  /** Reads both files now, so a missing or unreadable file is reported at start-up. */
  check(): void {
    this.#tables();
  }

  /** `--check`: both files parse, with entries, no skipped line, and someone who could log in. */
  async probe(): Promise<Finding[]> {
    let t: Tables;
    try {
      t = this.#tables();
    } catch (e) {
      return [found.error(`cannot read the user files: ${(e as Error).message}`)];
    }
    const out: Finding[] = [];
    const files: [string, string, Parsed<unknown>][] = [[this.options.passwdFile, 'passwd', t.passwd], [this.options.shadowFile, 'shadow', t.shadow]];
    for (const [file, kind, p] of files) {
      const counts = `${file}: ${p.entries.size} ${kind} entr${p.entries.size === 1 ? 'y' : 'ies'}, ${p.problems.length} line(s) skipped`;
      const first = p.problems[0];
      if (first !== undefined) {
        const hint = p.entries.size === 0 ? ` Is ${file} a ${kind}(5) file?` : '';
        out.push(found.error(`${counts} (line ${first.line}: ${first.message}); those users cannot log in.${hint}`));
      } else if (p.entries.size === 0) {
        out.push(found.error(`${counts}: nobody can log in`));
      } else {
        out.push(found.ok(counts));
      }
    }
    let usable = 0;
    for (const sp of t.shadow.entries.values()) {
      if (t.passwd.entries.has(sp.name) && sp.hash !== '' && !sp.hash.startsWith('!') && !sp.hash.startsWith('*')) usable++;
    }
    if (t.shadow.entries.size > 0) {
      out.push(usable === 0
        ? found.error(`none of the ${t.shadow.entries.size} shadow entries has a password hash and a passwd entry (all locked, empty or missing from ${this.options.passwdFile}): nobody can log in`)
        : found.ok(`${usable} user(s) with a password hash`));
    }
    return out;
  }

  describe(): string[] {
    return [`shadow: passwd=${this.options.passwdFile} shadow=${this.options.shadowFile}`];
  }

  async close(): Promise<void> {}

  /** Files are re-read whenever they change, so both must stay readable by the unprivileged user. */
  unprivilegedProblem(target: PrivilegeTarget): string | null {
    for (const f of [this.options.passwdFile, this.options.shadowFile]) {
      const why = unreadableBy(f, target);
      if (why !== null) return `-a shadow re-reads ${f} on every change and would fail after dropping to ${target.user}: ${why}`;
    }
    return null;
  }

  #tables(): Tables {
    return { passwd: this.#passwd.current(), shadow: this.#shadow.current() };
  }

  /**
   * Lock, expiry, a missing entry: everything this backend refuses without the password. The
   * credential cache asks this on every hit, so `usermod -L` or `-e` or `userdel` ends a cached OK
   * at once. A stat of both files, no crypt.
   */
  readonly accountCheck: AccountCheck = async (req) => {
    const tables = this.#readTables();
    if ('kind' in tables) return tables;
    const found = this.#entries(tables, req.login);
    if ('kind' in found) return found;
    return this.#ageing(found.sp);
  };

  #readTables(): Tables | Outcome {
    try {
      return this.#tables();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return unavailable('backend-error', `cannot read user files: ${err.code ?? ''} ${err.message}`, `NO Username lookup failure: ${err.message}`);
    }
  }

  /** The user's shadow entry when it holds a usable hash, else the refusal (which costs a dummy crypt in authenticate). */
  #entries(tables: Tables, login: string): { sp: ShadowEntry } | Outcome {
    const pw = tables.passwd.entries.get(login);
    const sp = tables.shadow.entries.get(login);
    if (!pw) return rejected('unknown-user', 'no such user in passwd', 'NO Invalid username');
    if (!sp) return rejected('unknown-user', 'user has no shadow entry', 'NO Invalid shadow username');
    const hash = sp.hash;
    if (hash === '*NP*') {
      return rejected('locked', 'NIS+ hash (*NP*) not accessible', 'NO Insufficient permission to access NIS authentication database (saslauthd)');
    }
    if (hash === '') return rejected('no-password', 'account has no password set', 'NO Incorrect password');
    if (hash.startsWith('!')) return rejected('locked', 'account is locked (!)', 'NO Incorrect password');
    if (hash.startsWith('*')) return rejected('locked', 'account is disabled (*)', 'NO Incorrect password');
    return { sp };
  }

  /** shadow(5) account ageing as of now: null when the account is in force. */
  #ageing(sp: ShadowEntry): Outcome | null {
    const state = accountState(sp, daysSinceEpoch(this.#now()));
    switch (state.state) {
      case 'valid':
        return null;
      case 'account-expired':
        return rejected('account-expired', 'account expired (shadow expire date)', 'NO Account expired');
      case 'password-expired':
        return rejected('password-expired', 'password expired (last change + max days)', 'NO Password expired');
      case 'must-change':
        return rejected('password-expired', 'password must be changed (last change date is 0)', 'NO Password expired');
      case 'inactive':
        return rejected('account-inactive', 'account inactive (password expired + inactive days)', 'NO Account expired');
      default: {
        const never: never = state;
        throw new UnreachableError(`unhandled account state ${String(never)}`);
      }
    }
  }

  async authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    req.trace?.('shadow', `looking up '${req.login}' in ${this.options.passwdFile} and ${this.options.shadowFile}`);
    const tables = this.#readTables();
    if ('kind' in tables) return tables;
    const found = this.#entries(tables, req.login);
    // Every refusal before the password pays for one crypt too, so the time taken says nothing about the user.
    if ('kind' in found) return this.crypt.verify(req.password.expose(), tables.shadow.dummyHash, signal).then(() => found);

    const match = await this.crypt.verify(req.password.expose(), found.sp.hash, signal);
    if (!match) return rejected('bad-password', 'password mismatch', 'NO Incorrect password');
    // Ageing is checked only after a correct password, as saslauthd does: it tells a guesser nothing.
    return this.#ageing(found.sp) ?? ok();
  }
}
