import type { BackendDefinition } from '../definition.js';
import { DEFAULT_SASLDB, createSasldbAuthenticator } from './sasldb.js';

/** `-a sasldb`: Cyrus' sasldb2 file; `-O` picks the file. */
export const sasldb: BackendDefinition<{ readonly file: string | null }> = {
  name: 'sasldb',
  mechOption: `database file, default ${DEFAULT_SASLDB}`,
  flags: [],
  options: (_v, shared) => ({ file: shared.mechOption }),
  // Lookups share the crypt pool: both are native jobs bounded by -n.
  create: (options, deps) => createSasldbAuthenticator(options.file, deps.crypt.pool, deps.log),
};
