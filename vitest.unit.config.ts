import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * `npm run test:unit`: the tests that need no root, no system users, no daemon process and no
 * Debian peer (slapd, Dovecot, a KDC, saslauthd), so they run in seconds anywhere. Everything else
 * stays in `npm test`, and so does test/auth/penalty-attack.test.ts: pure, but half a minute of
 * simulated attack. A new pure test file joins by being listed here.
 */
// Not mergeConfig: it would append this include list to the base one and run everything.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'test/protocol/**/*.test.ts',
      'test/docs/**/*.test.ts',
      'test/architecture/**/*.test.ts',
      'test/server/*-inprocess.test.ts',
      'test/server/linked-set.test.ts',
      'test/auth/account-check.test.ts',
      'test/auth/cache.test.ts',
      'test/auth/shared-state/key-file.test.ts',
      'test/auth/chain.test.ts',
      'test/auth/compose-lifecycle.test.ts',
      'test/auth/penalty.test.ts',
      'test/auth/penalty-control.test.ts',
      'test/stats/request-stats.test.ts',
      'test/auth/fleet-request.test.ts',
      'test/auth/penalty-keys.test.ts',
      'test/auth/request-policy.test.ts',
      'test/auth/secret.test.ts',
      'test/native/hmac-key.test.ts',
      'test/native/peercred.test.ts',
      'test/log/text-shortcut.test.ts',
      'test/auth/shadow-parser.test.ts',
      'test/auth/shared-state/url.test.ts',
      'test/auth/kerberos5/principal-and-options.test.ts',
      'test/auth/ldap/result-codes.test.ts',
      'test/auth/ldap/tokens.test.ts',
      'test/auth/pam/protocol.test.ts',
      'test/auth/rimap/imap-codec.test.ts',
      'test/auth/rimap/limiter.test.ts',
      'test/auth/rimap/line-reader.test.ts',
      'test/auth/rimap/target.test.ts',
      'test/bench/fuzz-properties.test.ts',
      'test/cli/auth-policy-args.test.ts',
      'test/log/log-records.test.ts',
      'test/cli/shared-state-args.test.ts',
    ],
  },
});
