import type { BackendDefinition } from '../definition.js';
import { GetpwentAuthenticator, type GetpwentOptions } from './getpwent.js';

/** `-a getpwent`: getpwnam(3) through NSS; no flags of its own. */
export const getpwent: BackendDefinition<GetpwentOptions> = {
  name: 'getpwent',
  flags: [],
  options: () => ({}),
  create: async (options, deps) => new GetpwentAuthenticator(options, deps.crypt, deps.log),
};
