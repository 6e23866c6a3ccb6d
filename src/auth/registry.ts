import type { Logger } from 'pino';
import type { DaemonOptions } from '../cli/daemon-options.js';
import type { Crypt } from '../native/crypt.js';
import type { Authenticator } from './authenticator.js';
import { LdapAuthenticator } from './backends/ldap/ldap.js';
import { RimapAuthenticator, rimapOptionsFrom } from './backends/rimap/rimap.js';
import { ShadowAuthenticator } from './backends/shadow/shadow.js';
import { DEFAULT_SASLAUTHD_CONF } from './backends/saslauthd-conf.js';
import { loadLdapConfig } from './backends/ldap/config.js';
import { GetpwentAuthenticator } from './backends/getpwent/getpwent.js';
import { createPamAuthenticator } from './backends/pam/factory.js';
import { createSasldbAuthenticator } from './backends/sasldb/sasldb.js';
import { createKerberos5Authenticator } from './backends/kerberos5/factory.js';

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

export class UnknownMechanismError extends Error {
  readonly code = 'UNKNOWN_MECH';
  constructor(readonly mech: string) {
    super(`unknown authentication mechanism: ${mech} (available: ${MECHANISMS.join(', ')})`);
  }
}

export function isMechanism(name: string): boolean {
  return FACTORIES.has(name.toLowerCase());
}

/** Builds the backend for `-a`; fails at start-up, naming the problem, when it cannot work. */
export async function createAuthenticator(mech: string, ctx: BackendContext): Promise<Authenticator> {
  const f = FACTORIES.get(mech.toLowerCase());
  if (!f) throw new UnknownMechanismError(mech);
  return f(ctx);
}
