import type { Scenario } from '../scenario.js';
import { cacheScenario, coldStartScenario } from './cache.js';
import { floorScenario } from './floor.js';
import { ldapFloorScenario, ldapScenario } from './ldap.js';
import { pamScenario } from './pam.js';
import { rimapFloorScenario, rimapScenario } from './rimap.js';
import { shadowScenario } from './shadow.js';

/** Every scenario `npm run bench` knows, in the order it runs them. */
export function allScenarios(): Scenario[] {
  return [
    floorScenario,
    cacheScenario,
    coldStartScenario,
    shadowScenario('sha-512', 2000),
    shadowScenario('yescrypt', 300),
    ldapFloorScenario,
    ldapScenario,
    rimapFloorScenario,
    rimapScenario,
    pamScenario('good', 2000),
    pamScenario('mixed', 500),
  ];
}
