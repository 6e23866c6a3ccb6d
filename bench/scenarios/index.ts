import type { Scenario } from '../scenario.js';
import { cacheScenario } from './cache.js';
import { ldapScenario } from './ldap.js';
import { pamScenario } from './pam.js';
import { rimapScenario } from './rimap.js';
import { shadowScenario } from './shadow.js';

/** Every scenario `npm run bench` knows, in the order it runs them. */
export function allScenarios(): Scenario[] {
  return [
    shadowScenario('sha-512', 2000),
    shadowScenario('yescrypt', 300),
    pamScenario('good', 2000),
    pamScenario('mixed', 500),
    ldapScenario,
    rimapScenario,
    cacheScenario,
  ];
}
