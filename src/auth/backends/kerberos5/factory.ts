import type { Logger } from 'pino';
import { Kerberos5Authenticator } from './kerberos5.js';
import { type Kerberos5Flags, kerberos5OptionsFrom } from './options.js';

/** `-a kerberos5` from the daemon's flags (-O, --krb5-timeout, -n) and the krb5_* config keys. */
export async function createKerberos5Authenticator(flags: Kerberos5Flags, log: Logger): Promise<Kerberos5Authenticator> {
  const { options, warnings } = kerberos5OptionsFrom(flags);
  for (const w of warnings) log.warn(`kerberos5: ${w}`);
  return Kerberos5Authenticator.create(options, log);
}
