import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { type Finding, found } from '../../check-finding.js';
import type { PasswdLookup } from '../../../native/binding.js';
import { native } from '../../../native/binding.js';
import type { Crypt } from '../../../native/crypt.js';
import { type AccountCheck, type AuthRequest, type Authenticator, type Outcome, ok, rejected, unavailable } from '../../authenticator.js';
import { escapeLogValue } from '../../../log/escape.js';
import { type Abortable, nativeSignal } from '../../request-signal.js';

export interface GetpwentOptions {
  /** getpwnam_r through NSS (Default: the native addon's). Tests may pass their own. */
  readonly lookup?: (name: string) => Promise<PasswdLookup>;
}

// A yescrypt hash of a random throwaway string: an unknown user or an entry with no hash costs one
// crypt, like a real user does, so timing tells nobody which logins exist.
const DUMMY_HASH = '$y$j9T$UCt1VTMY9RCN0S4Ze2ONV0$bkxfQNgljQBcDGtimHbJEyH/Sna9iTDYPgjSU/8PGn9';

/** `getent passwd` in --check: long enough for a large directory behind NSS (ms). */
const GETENT_TIMEOUT_MS = 10_000;

const SHADOWED = 'passwd entry holds no hash (x or *): shadowed passwords need -a shadow or -a pam';

/** `-a getpwent`: getpwnam_r(3) through NSS and crypt(3) against pw_passwd. */
export class GetpwentAuthenticator implements Authenticator {
  readonly name = 'getpwent';
  readonly #lookup: (name: string) => Promise<PasswdLookup>;
  #warnedShadowed = false;

  constructor(
    options: GetpwentOptions,
    private readonly crypt: Crypt,
    private readonly log: Logger,
  ) {
    this.#lookup = options.lookup ?? ((name) => native.getpwnam(name));
  }

  describe(): string[] {
    return ['getpwent: getpwnam(3) through NSS (nsswitch.conf "passwd:"), crypt(3) against pw_passwd'];
  }

  async close(): Promise<void> {}

  /**
   * `--check`: enumerates NSS passwd (`getent passwd`, as getpwent(3) would) and counts the entries
   * whose password field holds a hash. On a system with shadow passwords every field is `x`, and
   * this backend then refuses everyone: that is the usual reason `-a getpwent` "never works".
   */
  async probe(signal: Abortable): Promise<Finding[]> {
    let text: string;
    try {
      text = await new Promise<string>((resolve, reject) => {
        execFile('getent', ['passwd'], { signal: nativeSignal(signal), timeout: GETENT_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
      });
    } catch (e) {
      return [found.warning(`could not list NSS passwd entries (getent passwd: ${(e as Error).message}); entries not counted`)];
    }
    let total = 0;
    let hashed = 0;
    for (const line of text.split('\n')) {
      const f = line.split(':');
      if (f.length < 7) continue;
      total++;
      const pw = f[1] ?? '';
      if (pw !== '' && pw !== 'x' && !pw.startsWith('*') && !pw.startsWith('!')) hashed++;
    }
    if (total === 0) return [found.error('NSS passwd (getent passwd) lists no entries: nobody can log in')];
    if (hashed === 0) return [found.error(`none of the ${total} NSS passwd entries holds a password hash (all x, * or !): ${SHADOWED}; every login would be refused`)];
    return [found.ok(`${hashed} of ${total} NSS passwd entries hold a password hash`)];
  }

  /**
   * A user NSS no longer has, or a passwd field that can match no password (locked, shadowed,
   * empty): what this backend refuses without the password. One getpwnam, no crypt; the credential
   * cache asks it on every hit.
   */
  readonly accountCheck: AccountCheck = async (req) => {
    const found = await this.#entry(req.login);
    return 'kind' in found ? found : null;
  };

  /** The user's crypt hash, or why there is none to check (unavailable, unknown, locked). */
  async #entry(login: string): Promise<{ hash: string } | Outcome> {
    const pw = await this.#lookup(login);
    if (pw.errno !== undefined) {
      const text = pw.error ?? `errno ${pw.errno}`;
      return unavailable('backend-error', `getpwnam failed: ${text}`, `NO Username lookup failure: ${text}`);
    }
    if (!pw.found || pw.passwd === undefined) return rejected('unknown-user', 'no such user (NSS passwd)', 'NO Invalid username');
    const hash = pw.passwd;
    if (hash === 'x' || hash.startsWith('*') || hash === '') {
      if (!this.#warnedShadowed) {
        this.#warnedShadowed = true;
        this.log.warn(`getpwent: user '${escapeLogValue(login)}' has no hash in passwd; ${SHADOWED.split(': ')[1]}`);
      }
      const reason = hash === '' ? 'passwd entry has an empty password field' : SHADOWED;
      return rejected(hash === '' ? 'no-password' : 'locked', reason, 'NO Incorrect password');
    }
    if (hash.startsWith('!')) return rejected('locked', 'account is locked (! in passwd)', 'NO Incorrect password');
    return { hash };
  }

  async authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    const found = await this.#entry(req.login);
    if ('kind' in found) {
      if (found.kind === 'unavailable') return found;
      // A refusal before the password costs a crypt too, so timing tells nobody which logins exist.
      return this.crypt.verify(req.password.expose(), DUMMY_HASH, signal).then(() => found);
    }
    const match = await this.crypt.verify(req.password.expose(), found.hash, signal);
    return match ? ok() : rejected('bad-password', 'password mismatch', 'NO Incorrect password');
  }
}
