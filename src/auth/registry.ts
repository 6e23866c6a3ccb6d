import type { BackendDefinition } from './backends/definition.js';
import { getpwent } from './backends/getpwent/index.js';
import { kerberos5 } from './backends/kerberos5/index.js';
import { ldap } from './backends/ldap/index.js';
import { pam } from './backends/pam/index.js';
import { rimap } from './backends/rimap/index.js';
import { sasldb } from './backends/sasldb/index.js';
import { shadow } from './backends/shadow/index.js';
import { UnknownMechanismError } from '../errors.js';

/** Every backend, in the order `-v` lists them and help shows their flags. */
export const BACKENDS: readonly BackendDefinition[] = [sasldb, getpwent, kerberos5, pam, shadow, ldap, rimap] as BackendDefinition[];

/** The names `-a` accepts. */
export const BACKEND_NAMES: readonly string[] = BACKENDS.map((b) => b.name);

export { UnknownMechanismError };

/** The definition for an `-a` name (any case); throws UnknownMechanismError for a name we lack. */
export function backendNamed(name: string): BackendDefinition {
  const def = BACKENDS.find((b) => b.name === name.toLowerCase());
  if (def === undefined) throw new UnknownMechanismError(name, BACKEND_NAMES);
  return def;
}

export function isBackend(name: string): boolean {
  return BACKENDS.some((b) => b.name === name.toLowerCase());
}
