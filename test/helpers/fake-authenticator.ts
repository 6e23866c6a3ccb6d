import { Secret } from '../../src/auth/secret.js';
import type { AuthRequest, Authenticator, Outcome } from '../../src/auth/authenticator.js';
import { ok, rejected, unavailable } from '../../src/auth/authenticator.js';

/** A scripted backend for unit tests of the wrappers: users → password, or a fixed outcome. */
export class FakeAuthenticator implements Authenticator {
  calls: { login: string; service: string; realm: string }[] = [];
  /** When set, every request gets this (e.g. unavailable) instead of the user table. */
  forced: Outcome | null = null;
  closed = 0;

  constructor(
    readonly name: string,
    public users: Record<string, string> = {},
  ) {}

  async authenticate(req: AuthRequest): Promise<Outcome> {
    this.calls.push({ login: req.login, service: req.service, realm: req.realm });
    if (this.forced) return this.forced;
    const pw = this.users[req.login];
    if (pw === undefined) return rejected('unknown-user', 'unknown user', 'NO');
    return req.password.expose().toString('utf8') === pw ? ok() : rejected('bad-password', 'wrong password', 'NO');
  }

  describe(): string[] {
    return [`fake ${this.name}`];
  }

  async close(): Promise<void> {
    this.closed++;
  }
}

export const down = (): Outcome => unavailable('connect-failed', 'server down', 'NO');

/** A v4 request (no client address) for unit tests of backends and wrappers. */
export const req = (login: string, pw: string, service = 'imap', realm = ''): AuthRequest => ({
  login,
  password: Secret.fromString(pw),
  service,
  realm,
  clientAddr: null,
});
