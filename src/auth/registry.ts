import type { Logger } from 'pino';
import type { DaemonOptions } from '../config/daemon-options.js';
import type { Crypt } from '../native/crypt.js';
import type { Authenticator } from './authenticator.js';
import { LdapAuthenticator } from './ldap.js';
import { RimapAuthenticator, rimapOptionsFrom } from './rimap/rimap.js';
import { ShadowAuthenticator } from './shadow.js';
import { DEFAULT_SASLAUTHD_CONF } from '../config/saslauthd-conf.js';
import { loadLdapConfig } from '../config/ldap-config.js';
import { GetpwentAuthenticator } from './getpwent.js';
import { createPamAuthenticator } from './pam/factory.js';
import { createSasldbAuthenticator } from './sasldb.js';
import { createKerberos5Authenticator } from './kerberos5/factory.js';
import { UnknownMechanismError } from '../errors.js';

/** What a backend factory may use. */
export interface BackendContext {
  readonly options: DaemonOptions;
  readonly crypt: Crypt;
  readonly log: Logger;
}

export type BackendFactory = (ctx: BackendContext) => Promise<Authenticator>;

/** Backends in the order `-v` lists them. */
const FACTORIES: ReadonlyMap<string, BackendFactory> = new Map<string, BackendFactory>([
  ['sasldb', async (ctx) => createSasldbAuthenticator(ctx.options.mechOption, ctx.crypt.pool, ctx.log.child({ mech: 'sasldb' }))],
  ['getpwent', async (ctx) => new GetpwentAuthenticator({}, ctx.crypt, ctx.log.child({ mech: 'getpwent' }))],
  ['kerberos5', async (ctx) => createKerberos5Authenticator(ctx.options, ctx.log.child({ mech: 'kerberos5' }))],
  ['pam', async (ctx) => createPamAuthenticator(ctx.options, ctx.log.child({ mech: 'pam' }))],
  [
    'shadow',
    async (ctx) => {
      const a = new ShadowAuthenticator({ passwdFile: ctx.options.passwdFile, shadowFile: ctx.options.shadowFile }, ctx.crypt, ctx.log.child({ mech: 'shadow' }));
      a.check();
      return a;
    },
  ],
  ['ldap', async (ctx) => new LdapAuthenticator(loadLdapConfig(ctx.options.mechOption ?? DEFAULT_SASLAUTHD_CONF), ctx.crypt, ctx.log.child({ mech: 'ldap' }))],
  [
    'rimap',
    async (ctx) => {
      const log = ctx.log.child({ mech: 'rimap' });
      return new RimapAuthenticator(rimapOptionsFrom(ctx.options, log), log);
    },
  ],
]);

export const MECHANISMS: readonly string[] = [...FACTORIES.keys()];

export { UnknownMechanismError };

export function isMechanism(name: string): boolean {
  return FACTORIES.has(name.toLowerCase());
}

/** Builds the backend for `-a`; fails at start-up, naming the problem, when it cannot work. */
export async function createAuthenticator(mech: string, ctx: BackendContext): Promise<Authenticator> {
  const f = FACTORIES.get(mech.toLowerCase());
  if (!f) throw new UnknownMechanismError(mech, MECHANISMS);
  return f(ctx);
}
