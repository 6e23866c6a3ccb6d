import type { Scenario } from '../scenario.js';
import { cacheScenario, coldStartScenario } from './cache.js';
import { ldapScenario } from './ldap.js';
import { pamScenario } from './pam.js';
import { rimapScenario } from './rimap.js';
import { shadowScenario } from './shadow.js';

/** Every scenario `npm run bench` knows, in the order it runs them; a row's floor runs within it. */
export function allScenarios(): Scenario[] {
  return [
    cacheScenario,
    coldStartScenario,
    // 5 000: p99 then rests on the slowest 50 requests, not 20 (the $6$ tail is compared here).
    shadowScenario('sha-512', 5000),
    shadowScenario('yescrypt', 300),
    ldapScenario,
    rimapScenario,
    pamScenario('good', 2000),
    pamScenario('mixed', 500),
  ];
}
