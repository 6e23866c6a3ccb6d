import { existsSync } from 'node:fs';
import { ConfigError, DEFAULT_SASLAUTHD_CONF, parseBool, readSaslauthdConf } from '../saslauthd-conf.js';

/** Everything `-a kerberos5` needs, validated once at start-up. */
export interface Kerberos5Options {
  /** The saslauthd.conf the krb5_* keys came from, or null when none was read. */
  readonly configFile: string | null;
  /** `krb5_keytab`: keytab holding the verify principal's key; null: libkrb5's default keytab (Default: null). */
  readonly keytab: string | null;
  /** `krb5_verify_principal`: service part of the verify principal (Default: `host`). */
  readonly verifyService: string;
  /** `krb5_servername`: host part of the verify principal; null: this host's name (Default: null). */
  readonly serverName: string | null;
  /** `krb5_conv_krb4_instance`: the first `.` of a login becomes `/` (Default: false). */
  readonly convKrb4Instance: boolean;
  /** `krb5_<service>_instance`: the instance forced on requests for that service (Default: none). */
  readonly serviceInstances: ReadonlyMap<string, string>;
  /** `--krb5-timeout`: milliseconds for one whole check, KDC round trips included (Default: 10000). */
  readonly timeoutMs: number;
  /** `-n`: libkrb5 calls running at once (Default: 5). */
  readonly concurrency: number;
}

/** The daemon options this backend reads (a narrow view, so it does not depend on the whole bag). */
export interface Kerberos5Flags {
  /** `-O`: the config file. */
  readonly mechOption: string | null;
  readonly krb5TimeoutMs: number;
  /** `-n`: libkrb5 calls at once. */
  readonly concurrency: number;
}

const INSTANCE_KEY = /^krb5_(.+)_instance$/;
const KNOWN = new Set(['krb5_keytab', 'krb5_verify_principal', 'krb5_servername', 'krb5_conv_krb4_instance']);

/** The saslauthd.conf keys `-a kerberos5` reads (`krb5_<service>_instance` stands for one per service). */
export const KERBEROS5_KEYS: readonly string[] = [...KNOWN, 'krb5_<service>_instance'];

/**
 * Reads the krb5_* keys as saslauthd does: from `-O FILE` if given, else from /etc/saslauthd.conf if
 * it exists, else defaults. Other backends' keys in the same file are not ours and are skipped.
 * Returns the options and warnings (unknown krb5_* keys, ignored as saslauthd ignores them).
 */
export function kerberos5OptionsFrom(flags: Kerberos5Flags): { options: Kerberos5Options; warnings: string[] } {
  const file = flags.mechOption ?? (existsSync(DEFAULT_SASLAUTHD_CONF) ? DEFAULT_SASLAUTHD_CONF : null);
  const entries = file !== null ? readSaslauthdConf(file) : [];
  const warnings: string[] = [];
  let keytab: string | null = null;
  let verifyService = 'host';
  let serverName: string | null = null;
  let convKrb4Instance = false;
  const serviceInstances = new Map<string, string>();
  for (const { key, value, line } of entries) {
    if (!key.startsWith('krb5_')) continue;
    const where = file ?? '';
    switch (key) {
      case 'krb5_keytab':
        keytab = value;
        break;
      case 'krb5_verify_principal':
        if (/[/@\s]/.test(value)) throw new ConfigError(where, line, key, `${JSON.stringify(value)}: give the service part only (e.g. host); the host part is krb5_servername`);
        verifyService = value;
        break;
      case 'krb5_servername':
        serverName = value;
        break;
      case 'krb5_conv_krb4_instance': {
        const b = parseBool(value);
        if (b === null) throw new ConfigError(where, line, key, `${JSON.stringify(value)} is not a boolean (yes/no, true/false, on/off, 1/0)`);
        convKrb4Instance = b;
        break;
      }
      default: {
        const m = INSTANCE_KEY.exec(key);
        if (m && !KNOWN.has(key)) {
          if (/[/@\s]/.test(value)) throw new ConfigError(where, line, key, `${JSON.stringify(value)} is not a principal instance`);
          // saslauthd looks the key up with the request's service as sent; the file's keys are lower-cased.
          serviceInstances.set(m[1]!, value);
        } else {
          warnings.push(`${where}:${line}: ${key}: not a key saslauthd's kerberos5 reads; ignored`);
        }
      }
    }
  }
  return {
    options: { configFile: file, keytab, verifyService, serverName, convKrb4Instance, serviceInstances, timeoutMs: flags.krb5TimeoutMs, concurrency: flags.concurrency },
    warnings,
  };
}
