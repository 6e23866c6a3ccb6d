import type { BackendDefinition } from '../definition.js';
import { DEFAULT_SASLAUTHD_CONF } from '../saslauthd-conf.js';
import { LDAP_KEYS, type LdapConfig, loadLdapConfig } from './config.js';
import { LdapAuthenticator } from './ldap.js';

/** `-a ldap`: settings come from saslauthd.conf (`-O FILE`, default /etc/saslauthd.conf), not flags. */
export const ldap: BackendDefinition<{ readonly file: string }> = {
  name: 'ldap',
  mechOption: `config file, default ${DEFAULT_SASLAUTHD_CONF}`,
  flags: [],
  configKeys: LDAP_KEYS,
  options: (_v, shared) => ({ file: shared.mechOption ?? DEFAULT_SASLAUTHD_CONF }),
  create: async (options, deps) => {
    const cfg: LdapConfig = loadLdapConfig(options.file);
    return new LdapAuthenticator(cfg, deps.crypt, deps.log);
  },
};
