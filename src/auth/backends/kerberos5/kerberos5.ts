import type { Logger } from 'pino';
import { KRB5_ERR, Krb5, principalLabel, type Krb5Result, Krb5TimeoutError, type Krb5ServerArgs } from '../../../native/krb5.js';
import { PoolFullError } from '../../../native/pool.js';
import { type AuthRequest, type Authenticator, type Outcome, rejected, unavailable } from '../../authenticator.js';
import { type PrivilegeTarget, unreadableBy } from '../../privilege.js';
import type { Kerberos5Options } from './options.js';
import { KRB5_COMPAT, krb5Text, outcomeOf } from './outcomes.js';
import { formPrincipalName } from './principal.js';
import { BackendStartError } from '../../../errors.js';
import { type Finding, found } from '../../check-finding.js';
import { type Abortable, nativeSignal } from '../../request-signal.js';

/** How long the start-up check waits for the KDC before starting anyway (ms). */
const START_PROBE_MS = 5000;

/** What the start-up check found, for `--check` and `-v`. */
interface StartupState {
  readonly keytab: string;
  readonly verifyPrincipal: string;
  readonly kdc: string;
}

/**
 * `-a kerberos5`: a TGT for `login[/instance][@realm]` with the password (MIT libkrb5), then
 * krb5_verify_init_creds against the keytab, so only a KDC holding our key can say yes.
 */
export class Kerberos5Authenticator implements Authenticator {
  readonly name = 'kerberos5';

  private constructor(
    private readonly o: Kerberos5Options,
    private readonly krb5: Krb5,
    private readonly state: StartupState,
    private readonly log: Logger,
  ) {}

  /**
   * Fails, naming the keytab and principal, when the keytab cannot be read, holds no key for the
   * verify principal, or the KDC rejects that key. A KDC that does not answer is only a warning:
   * the daemon starts and answers "unavailable" until it is back.
   */
  static async create(o: Kerberos5Options, log: Logger): Promise<Kerberos5Authenticator> {
    const krb5 = new Krb5(o.concurrency);
    const server = serverArgs(o);
    const from = o.configFile !== null ? ` (from ${o.configFile})` : '';
    const keytabLabel = o.keytab ?? 'the default keytab (KRB5_KTNAME or krb5.conf default_keytab_name)';
    // First the keytab alone (local, fast), then the KDC, so a KDC that hangs is only a warning.
    let r = await krb5.checkKeytab(server, false, START_PROBE_MS);
    if (r.stage === 'ok') {
      const probeMs = Math.min(START_PROBE_MS, o.timeoutMs);
      try {
        r = await krb5.checkKeytab(server, true, probeMs);
      } catch (e) {
        if (!(e instanceof Krb5TimeoutError)) throw e;
        r = { ...r, stage: 'kdc', code: KRB5_ERR['KRB5_KDC_UNREACH']!, message: `no answer within ${probeMs} ms` };
      }
    }
    switch (r.stage) {
      case 'ok':
        break;
      case 'kdc': {
        const c = r.code;
        if (c === KRB5_ERR['KRB5KDC_ERR_PREAUTH_FAILED'] || c === KRB5_ERR['KRB5KRB_AP_ERR_BAD_INTEGRITY']) {
          throw new BackendStartError(`kerberos5: the KDC rejects the key in ${r.keytabName} for ${principalLabel(r.serverPrincipal)}: the keytab is stale or from another KDC (${krb5Text(r)})`);
        }
        log.warn({ keytab: r.keytabName, principal: r.serverPrincipal }, `kerberos5: could not check the keytab key with the KDC: ${krb5Text(r)}; starting anyway`);
        break;
      }
      case 'keytab':
      case 'keytab-entry':
        throw new BackendStartError(`kerberos5: keytab ${r.keytabName || keytabLabel}${from}: no usable key for the verify principal ${principalLabel(r.serverPrincipal) || `${o.verifyService}/${o.serverName ?? '<this host>'}`} (krb5_verify_principal/krb5_servername): ${krb5Text(r)}`);
      case 'server-name':
        throw new BackendStartError(`kerberos5: cannot make the verify principal ${o.verifyService}/${o.serverName ?? '<this host>'}${from}: ${krb5Text(r)}`);
      default:
        throw new BackendStartError(`kerberos5: libkrb5 failed at start-up (${r.stage}): ${krb5Text(r)} (KRB5_CONFIG: ${process.env['KRB5_CONFIG'] ?? '/etc/krb5.conf'})`);
    }
    const kdc = r.stage === 'ok' ? 'reachable, accepts the keytab key' : `NOT checked: ${krb5Text(r)}`;
    return new Kerberos5Authenticator(o, krb5, { keytab: r.keytabName, verifyPrincipal: r.serverPrincipal, kdc }, log);
  }

  describe(): string[] {
    const lines = [
      `kerberos5: TGT with the password (MIT libkrb5, KRB5_CONFIG=${process.env['KRB5_CONFIG'] ?? '/etc/krb5.conf'}), verified against keytab ${this.state.keytab} as ${this.state.verifyPrincipal}`,
      `kerberos5: KDC at start-up: ${this.state.kdc}`,
      `kerberos5: config ${this.o.configFile ?? '(none)'}; principal = login${this.o.serviceInstances.size > 0 ? '[/instance]' : ''}[@realm]${this.o.convKrb4Instance ? ', first . of a login -> /' : ''}; timeout ${this.o.timeoutMs} ms; ${this.o.concurrency} at once`,
    ];
    for (const [service, inst] of this.o.serviceInstances) lines.push(`kerberos5: service ${service} -> instance ${inst}`);
    return lines;
  }

  async close(): Promise<void> {}

  /**
   * `--check`: asks the KDC again for the verify principal's key (the start-up check only warns when
   * the KDC does not answer, so the daemon can start during a KDC outage). A KDC that does not answer
   * makes every request "unavailable": for --check that is an error.
   */
  async probe(): Promise<Finding[]> {
    const ms = Math.min(START_PROBE_MS, this.o.timeoutMs);
    let r: Krb5Result;
    try {
      r = await this.krb5.checkKeytab(serverArgs(this.o), true, ms);
    } catch (e) {
      if (!(e instanceof Krb5TimeoutError)) throw e;
      return [found.error(`KDC: no answer within ${ms} ms for ${this.state.verifyPrincipal}; every request would be unavailable`)];
    }
    if (r.stage === 'ok') return [found.ok(`KDC answers and accepts the key in ${this.state.keytab} for ${this.state.verifyPrincipal}`)];
    return [found.error(`KDC check of ${this.state.verifyPrincipal} failed (${r.stage}): ${krb5Text(r)}`)];
  }

  /** The keytab must stay readable after the drop; the KDC is reached over the network. */
  unprivilegedProblem(target: PrivilegeTarget): string | null {
    const m = /^(?:(?:FILE|WRFILE):)?(\/.*)$/.exec(this.state.keytab);
    if (!m) return `kerberos5: cannot tell whether ${target.user} can read keytab ${this.state.keytab}`;
    return unreadableBy(m[1]!, target);
  }

  async authenticate(req: AuthRequest, signal: Abortable): Promise<Outcome> {
    if (/\0/.test(req.login) || /\0/.test(req.realm)) return rejected('invalid-input', 'NUL in login or realm', KRB5_COMPAT.internal);
    const pw = req.password.expose();
    // libkrb5 takes the password as a C string: a NUL would cut it short and check a prefix.
    if (pw.includes(0)) return rejected('invalid-input', 'NUL in password', KRB5_COMPAT.initCreds);
    if (pw.length === 0) return rejected('no-password', 'empty password', KRB5_COMPAT.initCreds);
    const p = formPrincipalName(req.login, req.service, req.realm, this.o);
    if (!p.ok) return rejected('invalid-input', p.reason, KRB5_COMPAT.principal);
    let r: Krb5Result;
    try {
      r = await this.krb5.authenticate({ ...serverArgs(this.o), principal: p.name, password: pw }, this.o.timeoutMs, nativeSignal(signal));
    } catch (e) {
      if (e instanceof Krb5TimeoutError) return unavailable('timeout', `no verdict from the KDC within ${this.o.timeoutMs} ms (--krb5-timeout)`, KRB5_COMPAT.initCreds);
      if (e instanceof PoolFullError) return unavailable('overloaded', e.message, KRB5_COMPAT.internal);
      if (signal.aborted) return unavailable('timeout', 'request aborted', KRB5_COMPAT.internal);
      throw e;
    }
    const outcome = outcomeOf(r);
    if (outcome.kind === 'unavailable' && outcome.code === 'config') this.log.error(outcome.reason);
    return { ...outcome, log: { principal: p.name } };
  }
}

function serverArgs(o: Kerberos5Options): Krb5ServerArgs {
  return { keytab: o.keytab, verifyService: o.verifyService, serverName: o.serverName };
}
