import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type ConnectionOptions, createSecureContext } from 'node:tls';
import {
  InappropriateAuthError,
  InsufficientAccessError,
  InvalidCredentialsError,
  InvalidDNSyntaxError,
  NoSuchAttributeError,
  NoSuchObjectError,
  ResultCodeError,
  UnwillingToPerformError,
} from 'ldapts';
import type { Logger } from 'pino';
import { ConfigError } from '../config/saslauthd-conf.js';
import type { LdapConfig } from '../config/ldap-config.js';
import type { Crypt } from '../native/crypt.js';
import { type AuthRequest, type Authenticator, type Outcome, ok, rejected, unavailable } from './authenticator.js';
import { LdapTransportError } from './ldap/connection.js';
import { matchesAny } from './ldap/password-schemes.js';
import { type ServerEntry, ServerSet } from './ldap/server-set.js';
import { type TokenContext, expandTokens } from './ldap/tokens.js';

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

type Lookup = { kind: 'one'; dn: string; values: Buffer[] } | { kind: 'none' } | { kind: 'many'; count: number };

/** `-a ldap`: saslauthd.conf-compatible LDAP authentication (bind, fastbind, custom) with group checks. */
export class LdapAuthenticator implements Authenticator {
  readonly mech = 'ldap';
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
      `ldap: bind_dn=${c.bindDn || '(anonymous)'} timeout=${c.timeoutSec}s time_limit=${c.timeLimitSec}s pool_size=${c.poolSize}`,
    ];
    if (this.#groupCheck) {
      lines.push(
        c.groupMatchMethod === 'filter'
          ? `ldap: group check: filter=${c.groupFilter} base=${c.groupSearchBase || '(root)'} scope=${c.groupScope}`
          : `ldap: group check: compare ${c.groupDn} ${c.groupAttr}=<user DN>`,
      );
    }
    if (c.saslMech || c.saslId || c.saslAuthzId || c.saslRealm || c.saslSecprops) lines.push('ldap: note: SASL keys are set but ldap_use_sasl is off; they are ignored');
    if (c.referrals) lines.push('ldap: note: ldap_referrals is accepted but referrals are not followed');
    return lines;
  }

  async close(): Promise<void> {
    await this.#servers.close();
  }

  async authenticate(req: AuthRequest, signal: AbortSignal): Promise<Outcome> {
    // An empty simple bind is an "unauthenticated" bind that succeeds (RFC 4513 5.1.2): never send one.
    if (req.password.length === 0) return rejected('no-password', 'empty password', NO);
    const ctx: TokenContext = { login: req.login, realm: req.realm !== '' ? req.realm : this.cfg.defaultRealm, service: req.service };
    try {
      return await this.#servers.run((e) => this.#decide(e, ctx, req.password.expose(), signal), signal);
    } catch (err) {
      if (err instanceof LdapTransportError) {
        const code = err.code === 'timeout' ? 'timeout' : 'connect-failed';
        return unavailable(code, `LDAP server unavailable: ${err.message}`, NO);
      }
      if (err instanceof ResultCodeError) return unavailable('backend-error', `LDAP error ${err.code}: ${err.message}`, NO);
      return unavailable('backend-error', `LDAP error: ${(err as Error).message}`, NO);
    }
  }

  async #decide(e: ServerEntry, ctx: TokenContext, password: Buffer, signal: AbortSignal): Promise<Outcome> {
    const c = this.cfg;
    let dn: string;
    switch (c.authMethod) {
      case 'fastbind':
        dn = expandTokens(c.filter, ctx, 'dn');
        break;
      case 'bind':
      case 'custom': {
        const found = await this.#findUser(e, ctx, signal);
        if (found.kind !== 'one') {
          // A known user costs a search and a bind; pay for a bind here too, so the time taken does
          // not tell a prober which logins exist (the DN cannot exist, so the bind always fails).
          if (c.authMethod === 'bind') await this.#userBind(e, this.#nobodyDn, password, signal);
          return found.kind === 'none'
            ? rejected('unknown-user', 'user not found', NO)
            : rejected('unknown-user', `duplicate entries (${found.count}) match the filter`, NO);
        }
        dn = found.dn;
        if (c.authMethod === 'custom') {
          if (found.values.length === 0) return rejected('no-password', `entry has no readable ${c.passwordAttr}`, NO);
          if (!(await matchesAny(password, found.values, this.crypt, signal))) return rejected('bad-password', 'password mismatch', NO);
        }
        break;
      }
      default: {
        const never: never = c.authMethod;
        throw new Error(`unhandled method ${String(never)}`);
      }
    }
    if (c.authMethod !== 'custom') {
      const bound = await this.#userBind(e, dn, password, signal);
      if (bound !== null) return bound;
    }
    if (this.#groupCheck && !(await this.#inGroup(e, { ...ctx, userDn: dn }, signal))) {
      return rejected('not-authorized', 'not a member of the required group', NO);
    }
    return ok();
  }

  async #findUser(e: ServerEntry, ctx: TokenContext, signal: AbortSignal): Promise<Lookup> {
    const c = this.cfg;
    const custom = c.authMethod === 'custom';
    const { conn } = await e.search.acquire(signal);
    try {
      const res = await conn.search(
        expandTokens(c.searchBase, ctx, 'dn'),
        {
          filter: expandTokens(c.filter, ctx, 'filter'),
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
      if (entries.length === 0) return { kind: 'none' };
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
    } catch (err) {
      if (err instanceof NoSuchObjectError) return { kind: 'none' };
      throw err;
    } finally {
      e.search.release(conn);
    }
  }

  /** Binds as the user on a bind-only connection; null when accepted, else the rejection. */
  async #userBind(e: ServerEntry, dn: string, password: Buffer, signal: AbortSignal): Promise<Outcome | null> {
    const { conn } = await e.bind.acquire(signal);
    try {
      await conn.bind(dn, password, signal);
      conn.boundAs = 'user';
      return null;
    } catch (err) {
      if (err instanceof InvalidCredentialsError) return rejected('bad-password', 'invalid credentials', NO);
      if (err instanceof InvalidDNSyntaxError) return rejected('unknown-user', 'invalid DN syntax for the user DN', NO);
      if (err instanceof NoSuchObjectError) return rejected('unknown-user', 'no such user DN', NO);
      if (err instanceof InsufficientAccessError || err instanceof InappropriateAuthError || err instanceof UnwillingToPerformError) {
        return rejected('not-authorized', `bind refused: ${(err as Error).message}`, NO);
      }
      throw err;
    } finally {
      e.bind.release(conn);
    }
  }

  async #inGroup(e: ServerEntry, ctx: TokenContext, signal: AbortSignal): Promise<boolean> {
    const c = this.cfg;
    const { conn } = await e.search.acquire(signal);
    try {
      if (c.groupMatchMethod === 'filter') {
        const res = await conn.search(
          expandTokens(c.groupSearchBase, ctx, 'dn'),
          { filter: expandTokens(c.groupFilter, ctx, 'filter'), scope: c.groupScope, derefAliases: c.deref, sizeLimit: 1, timeLimit: c.timeLimitSec, attributes: ['1.1'] },
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
