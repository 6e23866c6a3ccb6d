import type { BackendDefinition } from '../definition.js';
import { ShadowAuthenticator, type ShadowOptions } from './shadow.js';

/** `-a shadow`: passwd + shadow files and crypt(3). */
export const shadow: BackendDefinition<ShadowOptions> = {
  name: 'shadow',
  flags: [
    { key: 'passwd-file', value: '<path>', help: 'passwd file for -a shadow', default: '/etc/passwd' },
    { key: 'shadow-file', value: '<path>', help: 'shadow file for -a shadow', default: '/etc/shadow' },
  ],
  options: (v) => ({ passwdFile: v['passwd-file'] as string, shadowFile: v['shadow-file'] as string }),
  async create(options, deps) {
    const a = new ShadowAuthenticator(options, deps.crypt, deps.log);
    a.check();
    return a;
  },
};
