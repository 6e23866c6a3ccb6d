import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type ConnectionOptions, createSecureContext } from 'node:tls';
import { FilterParser, InvalidCredentialsError, NoSuchAttributeError, NoSuchObjectError, ResultCodeError } from 'ldapts';
import type { Logger } from 'pino';
import { ConfigError } from '../saslauthd-conf.js';
import type { LdapConfig } from './config.js';
import type { Crypt } from '../../../native/crypt.js';
import { type AuthRequest, type Authenticator, type Outcome, ok, rejected } from '../../authenticator.js';
import { matchesAny } from './password-schemes.js';
import { outcomeOfError } from './result-codes.js';
import { type ServerEntry, ServerSet } from './server-set.js';
import { type TokenContext, expandTokens } from './tokens.js';
import { UnreachableError } from '../../../errors.js';
import type { BackendStatus } from '../../../stats/backend-status.js';
import type { Trace } from '../../trace.js';
import { type Finding, found } from '../../check-finding.js';
import type { Abortable } from '../../request-signal.js';

// saslauthd's ldap answers a bare OK or NO whatever happened; the detail goes to the log only.
const NO = 'NO';

/** Builds Node TLS options from the ldap_tls_* keys; unreadable files or a bad cipher list are config errors. */
export function buildTlsOptions(cfg: LdapConfig): ConnectionOptions {
  const o: ConnectionOptions = { rejectUnauthorized: cfg.tlsCheckPeer };
  const ca: Buffer[] = [];
  if (cfg.tlsCacertFile !== '') ca.push(readFileSync(cfg.tlsCacertFile));
  if (cfg.tlsCacertDir !== '') {
    for (const name of readdirSync(cfg.tlsCacertDir).sort()) {
      const p = join(cfg.tlsCacertDir, name);
      if (!statSync(p).isFile()) continue;
      const pem = readFileSync(p);
      if (pem.includes('-----BEGIN CERTIFICATE-----')) ca.push(pem);
    }
  }
  if (ca.length > 0) o.ca = ca;
  if (cfg.tlsCert !== '') {
    o.cert = readFileSync(cfg.tlsCert);
    o.key = readFileSync(cfg.tlsKey);
  }
  if (cfg.tlsCiphers !== '') o.ciphers = cfg.tlsCiphers;
  if (!cfg.tlsCheckPeer) o.checkServerIdentity = () => undefined;
  try {
    createSecureContext(o);
  } catch (e) {
    const key = cfg.tlsCiphers !== '' && /cipher/i.test((e as Error).message) ? 'ldap_tls_ciphers' : 'ldap_tls_cert';
    throw new ConfigError(cfg.file, null, key, `TLS settings rejected: ${(e as Error).message}`);
  }
  return o;
}

/** The one-step SASL initial response of the service bind (RFC 4422 EXTERNAL, RFC 4616 PLAIN). */
function saslCredentials(cfg: LdapConfig): Buffer {
  const authz = Buffer.from(cfg.saslAuthzId, 'utf8');
  if (cfg.saslMech === 'EXTERNAL') return authz;
  const nul = Buffer.alloc(1);
  return Buffer.concat([authz, nul, Buffer.from(cfg.saslId, 'utf8'), nul, Buffer.from(cfg.bindPw, 'utf8')]);
}

/** The step a request is at, named in the log when an LDAP error ends it. */
type Step = { op: 'connect' | 'user search' | 'user bind' | 'group check' };

type Lookup = { kind: 'one'; dn: string; values: Buffer[] } | { kind: 'none' } | { kind: 'many'; count: number } | { kind: 'referrals' };

/** `-a ldap`: saslauthd.conf-compatible LDAP authentication (bind, fastbind, custom) with group checks. */
export class LdapAuthenticator implements Authenticator {
  readonly name = 'ldap';
  readonly #servers: ServerSet;
  readonly #groupCheck: boolean;
  readonly #nobodyDn: string;

  constructor(
    readonly cfg: LdapConfig,
    private readonly crypt: Crypt,
    log: Logger,
    tls: ConnectionOptions = buildTlsOptions(cfg),
  ) {
    this.#servers = new ServerSet(
      {
        servers: cfg.servers,
        poolSize: cfg.poolSize,
        connection: { timeoutMs: Math.round(cfg.timeoutSec * 1000), tls, startTls: cfg.startTls },
        bindDn: cfg.bindDn,
        bindPw: Buffer.from(cfg.bindPw, 'utf8'),
        ...(cfg.useSasl ? { sasl: { mech: cfg.saslMech, credentials: saslCredentials(cfg) } } : {}),
      },
      log,
    );
    this.#groupCheck = cfg.groupDn !== '' || cfg.groupFilter !== '';
    this.#nobodyDn = 'cn=saslauthd-ts-no-such-entry';
  }

  /** Talks to the directory over the network; saslauthd.conf and TLS files were read at start-up. */
  unprivilegedProblem(): string | null {
    return null;
  }

  describe(): string[] {
    const c = this.cfg;
    const lines = [
      `ldap: config=${c.file}`,
      `ldap: servers=${c.servers.map((s) => s.uri).join(' ')} start_tls=${c.startTls ? 'yes' : 'no'} tls_check_peer=${c.tlsCheckPeer ? 'yes' : 'no'}`,
      `ldap: auth_method=${c.authMethod} ${c.authMethod === 'fastbind' ? 'dn_template' : 'filter'}=${c.filter} search_base=${c.searchBase || '(root)'} scope=${c.scope}`,
      `ldap: ${c.useSasl ? `service bind=SASL ${c.saslMech}${c.saslMech === 'PLAIN' ? ` id=${c.saslId}` : ''} authz_id=${c.saslAuthzId || '(none)'}` : `bind_dn=${c.bindDn || '(anonymous)'}`} timeout=${c.timeoutSec}s time_limit=${c.timeLimitSec}s pool_size=${c.poolSize}`,
    ];
    if (this.#groupCheck) {
      lines.push(
        c.groupMatchMethod === 'filter'
          ? `ldap: group check: filter=${c.groupFilter} base=${c.groupSearchBase || '(root)'} scope=${c.groupScope}`
          : `ldap: group check: compare ${c.groupDn} ${c.groupAttr}=<user DN>`,
      );
    }
    if (c.useSasl) {
      // saslauthd also binds each user with SASL (bind becomes fastbind); with EXTERNAL that bind
      // ignores the password, so the user check stays the configured method with a simple bind.
      lines.push(`ldap: note: SASL is used for the service bind only; users are checked by ${c.authMethod} with a simple bind`);
      if (c.bindDn !== '') lines.push('ldap: note: ldap_bind_dn is ignored with ldap_use_sasl');
      if (c.saslRealm !== '') lines.push(`ldap: note: ldap_realm is ignored (${c.saslMech} has no realm)`);
      if (c.saslMech === 'EXTERNAL' && c.saslId !== '') lines.push('ldap: note: ldap_id is ignored with EXTERNAL (the identity is the connection\'s)');
    } else if (c.saslMech || c.saslId || c.saslAuthzId || c.saslRealm || c.saslSecprops) lines.push('ldap: note: SASL keys are set but ldap_use_sasl is off; they are ignored');
    if (c.referrals) lines.push('ldap: note: ldap_referrals is accepted but referrals are not followed');
    return lines;
  }

  async close(): Promise<void> {
    await this.#servers.close();
  }

  /** Each ldap_servers entry, up or marked down (the server set probes a down one until it answers). */
  status(): BackendStatus {
    const now = Date.now();
    return { servers: this.#servers.entries.map((e) => ({ server: e.server.uri, up: e.healthy, downForMs: e.healthy ? null : now - e.downSince })) };
  }

  /** `--check`: every ldap_servers entry probed live; one answering is enough to serve, none is an error. */
  async probe(signal: Abortable): Promise<Finding[]> {
    const results = await this.#servers.checkEach(signal);
    const up = results.filter((r) => r.problem === null).length;
    return results.map((r) => {
      if (r.problem === null) return found.ok(`${r.uri}: ${r.steps}: OK`);
      const text = `${r.uri}: ${r.steps}: failed: ${r.problem}`;
      return up > 0 ? found.warning(`${text} (another server answered, so requests go there)`) : found.error(text);
    });
  }

  async authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    // An empty simple bind is an "unauthenticated" bind that succeeds (RFC 4513 5.1.2): never send one.
    if (req.password.length === 0) return rejected('no-password', 'empty password', NO);
    const ctx: TokenContext = { login: req.login, realm: req.realm !== '' ? req.realm : this.cfg.defaultRealm, service: req.service };
    const step: Step = { op: 'connect' };
    try {
      return await this.#servers.run((e) => this.#decide(e, ctx, req.password.expose(), step, signal, req.trace), signal);
    } catch (err) {
      // Only a server that cannot serve is "unavailable" (a chain then asks its next backend); any
      // other error is a refusal, since the request's own login or realm may have caused it.
      return outcomeOfError(err, step.op, NO);
    }
  }

  async #decide(e: ServerEntry, ctx: TokenContext, password: Buffer, step: Step, signal: Abortable, trace: Trace | undefined): Promise<Outcome> {
    const c = this.cfg;
    let dn: string;
    trace?.('ldap', `server ${e.server.uri}${e.healthy ? '' : ' (marked down; no other server is up)'}, tokens: %u='${ctx.login}' %r='${ctx.realm}' %s='${ctx.service}'`);
    switch (c.authMethod) {
      case 'fastbind':
        dn = expandTokens(c.filter, ctx, 'dn');
        trace?.('ldap', `fastbind: user DN '${dn}' (ldap_filter ${c.filter} expanded)`);
        break;
      case 'bind':
      case 'custom': {
        step.op = 'user search';
        const found = await this.#findUser(e, ctx, signal, trace);
        if (found.kind !== 'one') {
          // A known user costs a search and a bind; pay for a bind here too, so the time taken does
          // not tell a prober which logins exist (the DN cannot exist, so the bind always fails).
          if (c.authMethod === 'bind') await this.#timingBind(e, password, signal);
          switch (found.kind) {
            case 'none':
              return rejected('unknown-user', 'user not found', NO);
            case 'many':
              // The user exists (more than once): not "unknown", or a chain would ask the next backend.
              return rejected('not-authorized', `duplicate entries (${found.count}) match the filter`, NO);
            case 'referrals':
              return rejected('invalid-input', 'the user search returned only referrals (not followed)', NO);
            default: {
              const never: never = found;
              throw new UnreachableError(`unhandled lookup ${String(never)}`);
            }
          }
        }
        dn = found.dn;
        trace?.('ldap', `search found one entry: ${dn}`);
        if (c.authMethod === 'custom') {
          if (found.values.length === 0) return rejected('no-password', `entry has no readable ${c.passwordAttr}`, NO);
          const r = await matchesAny(password, found.values, this.crypt, signal);
          if (!r.match) {
            const note = r.unsupported.length > 0 ? `; ${c.passwordAttr} in ${r.unsupported.join(', ')} not checked (unsupported scheme; use ldap_auth_method bind)` : '';
            return r.unsupported.length === found.values.length
              ? rejected('no-password', `no ${c.passwordAttr} value in a supported scheme${note}`, NO)
              : rejected('bad-password', `password mismatch${note}`, NO);
          }
        }
        break;
      }
      default: {
        const never: never = c.authMethod;
        throw new UnreachableError(`unhandled method ${String(never)}`);
      }
    }
    if (c.authMethod !== 'custom') {
      step.op = 'user bind';
      const bound = await this.#userBind(e, dn, password, signal);
      if (bound !== null) return bound;
    }
    if (this.#groupCheck) {
      step.op = 'group check';
      if (!(await this.#inGroup(e, { ...ctx, userDn: dn }, signal, trace))) return rejected('not-authorized', 'not a member of the required group', NO);
    }
    return ok();
  }

  async #findUser(e: ServerEntry, ctx: TokenContext, signal: Abortable, trace: Trace | undefined): Promise<Lookup> {
    const c = this.cfg;
    const custom = c.authMethod === 'custom';
    const base = expandTokens(c.searchBase, ctx, 'dn');
    trace?.('ldap', `search base '${base}' scope ${c.scope} filter '${expandTokens(c.filter, ctx, 'filter')}' (ldap_search_base ${c.searchBase || '(root)'}, ldap_filter ${c.filter})`);
    // Parsed here, not inside the connection's deadline, so a value ldapts refuses is not mistaken
    // for a network failure (which would mark the server down and let a chain go on).
    const filter = FilterParser.parseString(expandTokens(c.filter, ctx, 'filter'));
    const { conn } = await e.search.acquire(signal);
    try {
      const res = await conn.search(
        base,
        {
          filter,
          scope: c.scope,
          derefAliases: c.deref,
          // saslauthd's default limit of 1 hides duplicates; we always ask for two to see them.
          sizeLimit: c.sizeLimit === 0 ? 0 : Math.max(2, c.sizeLimit),
          timeLimit: c.timeLimitSec,
          attributes: custom ? [c.passwordAttr] : ['1.1'],
          explicitBufferAttributes: custom ? [c.passwordAttr] : [],
        },
        signal,
      );
      const entries = res.searchEntries;
      // Nothing here, but the server points elsewhere: the user may exist there, so not "unknown".
      if (entries.length === 0) return res.searchReferences.length > 0 ? { kind: 'referrals' } : { kind: 'none' };
      if (entries.length > 1) return { kind: 'many', count: entries.length };
      const entry = entries[0]!;
      const values: Buffer[] = [];
      if (custom) {
        const want = c.passwordAttr.toLowerCase();
        for (const [k, v] of Object.entries(entry)) {
          if (k.toLowerCase() !== want) continue;
          for (const x of Array.isArray(v) ? v : [v]) values.push(Buffer.isBuffer(x) ? x : Buffer.from(String(x), 'utf8'));
        }
      }
      return { kind: 'one', dn: entry.dn, values };
    } finally {
      e.search.release(conn);
    }
  }

  /**
   * Binds as the user on a bind-only connection; null when accepted, else the rejection. Every bind
   * with a DN drawn from a request or an entry comes here.
   */
  async #userBind(e: ServerEntry, dn: string, password: Buffer, signal: Abortable): Promise<Outcome | null> {
    // An empty DN is an anonymous bind, an empty password an unauthenticated one (RFC 4513 5.1); a
    // server that allows them says success for any password. A template such as %U gives '' for '@x'.
    if (dn.trim() === '') return rejected('invalid-input', 'the user DN is empty', NO);
    if (password.length === 0) return rejected('no-password', 'empty password', NO);
    const { conn } = await e.bind.acquire(signal);
    try {
      await conn.bind(dn, password, signal);
      conn.boundAs = 'user';
      return null;
    } catch (err) {
      if (err instanceof InvalidCredentialsError) return rejected('bad-password', 'invalid credentials', NO);
      throw err;
    } finally {
      e.bind.release(conn);
    }
  }

  /** The bind an unknown login pays for; its answer does not matter, only a dead server does. */
  async #timingBind(e: ServerEntry, password: Buffer, signal: Abortable): Promise<void> {
    try {
      await this.#userBind(e, this.#nobodyDn, password, signal);
    } catch (err) {
      if (!(err instanceof ResultCodeError)) throw err;
    }
  }

  async #inGroup(e: ServerEntry, ctx: TokenContext, signal: Abortable, trace: Trace | undefined): Promise<boolean> {
    const c = this.cfg;
    trace?.('ldap', c.groupMatchMethod === 'filter'
      ? `group check: search base '${expandTokens(c.groupSearchBase, ctx, 'dn')}' filter '${expandTokens(c.groupFilter, ctx, 'filter')}'`
      : `group check: compare ${expandTokens(c.groupDn, ctx, 'dn')} ${c.groupAttr}=${ctx.userDn ?? ''}`);
    const { conn } = await e.search.acquire(signal);
    try {
      if (c.groupMatchMethod === 'filter') {
        const filter = FilterParser.parseString(expandTokens(c.groupFilter, ctx, 'filter'));
        const res = await conn.search(
          expandTokens(c.groupSearchBase, ctx, 'dn'),
          { filter, scope: c.groupScope, derefAliases: c.deref, sizeLimit: 1, timeLimit: c.timeLimitSec, attributes: ['1.1'] },
          signal,
        );
        return res.searchEntries.length > 0;
      }
      return await conn.compare(expandTokens(c.groupDn, ctx, 'dn'), c.groupAttr, ctx.userDn ?? '', signal);
    } catch (err) {
      if (err instanceof NoSuchObjectError || err instanceof NoSuchAttributeError) return false;
      throw err;
    } finally {
      e.search.release(conn);
    }
  }
}
