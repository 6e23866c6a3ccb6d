import { type BackendDefinition, wholeNumber } from '../definition.js';
import { createKerberos5Authenticator } from './factory.js';
import { KERBEROS5_KEYS, type Kerberos5Flags } from './options.js';

/** `-a kerberos5`: a password check against the KDC; krb5_* keys from saslauthd.conf (`-O FILE`). */
export const kerberos5: BackendDefinition<Kerberos5Flags> = {
  name: 'kerberos5',
  mechOption: 'config file, default /etc/saslauthd.conf if it exists',
  flags: [
    { key: 'krb5-timeout', value: '<ms>', help: 'kerberos5: time for one whole check, KDC round trips included', default: 10000, parse: wholeNumber(1) },
  ],
  configKeys: KERBEROS5_KEYS,
  options: (v, shared) => ({ mechOption: shared.mechOption, krb5TimeoutMs: v['krb5-timeout'] as number, concurrency: shared.concurrency }),
  create: (options, deps) => createKerberos5Authenticator(options, deps.log),
};
