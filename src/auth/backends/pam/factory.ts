import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { NATIVE_BUILD_DIR } from '../../../native/binding.js';
import { PamAuthenticator } from './pam.js';
import { BackendStartError } from '../../../errors.js';

/** Built by node-gyp beside the addon (binding.gyp target saslauthd_pam_helper). */
export const PAM_HELPER_PATH = join(NATIVE_BUILD_DIR, 'saslauthd_pam_helper');

/** The flags `-a pam` reads. */
export interface PamFlags {
  /** `-n`: helper processes (conversations at once). */
  readonly helpers: number;
  /** `--pam-queue`: requests that may wait for a free helper (Default: 1024). */
  readonly pamQueue: number;
  /** `--pam-timeout`: milliseconds one conversation may take (Default: 10000). */
  readonly pamTimeoutMs: number;
  /** `--pam-fail-delay`: milliseconds a failure waits before NO (Default: 2000). */
  readonly pamFailDelayMs: number;
  /** `--pam-service`: PAM service for every request, or null for the request's (Default: null). */
  readonly pamService: string | null;
}

/** Builds `-a pam` from its flags and starts its helpers; fails at start-up when it can't work. */
export function createPamAuthenticator(o: PamFlags, log: Logger, helperPath = PAM_HELPER_PATH): PamAuthenticator {
  try {
    accessSync(helperPath, constants.X_OK);
  } catch (e) {
    throw new BackendStartError(`PAM helper ${helperPath} is not executable (${(e as NodeJS.ErrnoException).code}); run npm run install to build it`);
  }
  const a = new PamAuthenticator(
    {
      helperPath,
      helpers: o.helpers,
      maxQueue: o.pamQueue,
      timeoutMs: o.pamTimeoutMs,
      failDelayMs: o.pamFailDelayMs,
      forcedService: o.pamService,
    },
    log,
  );
  a.start();
  return a;
}
