import fc from 'fast-check';
import { describe, it } from 'vitest';
import { FUZZ_TARGETS } from '../fixtures/fuzz-properties.js';

// The same properties `npm run fuzz` runs for minutes, here a few hundred cases each so the suite stays quick.
describe('fuzz properties (codec, validation, passwd/shadow readers, saslauthd.conf/LDAP config)', () => {
  for (const t of FUZZ_TARGETS) {
    it(t.name, () => {
      fc.assert(t.property, { numRuns: 400 });
    });
  }
});
