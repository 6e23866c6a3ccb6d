import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { DaemonOptions } from '../../../cli/daemon-options.js';
import { NATIVE_BUILD_DIR } from '../../../native/binding.js';
import { PamAuthenticator } from './pam.js';

/** Built by node-gyp beside the addon (binding.gyp target saslauthd_pam_helper). */
export const PAM_HELPER_PATH = join(NATIVE_BUILD_DIR, 'saslauthd_pam_helper');

/** Builds `-a pam` from the daemon's options and starts its helpers; fails at start-up when it can't work. */
export function createPamAuthenticator(o: DaemonOptions, log: Logger, helperPath = PAM_HELPER_PATH): PamAuthenticator {
  try {
    accessSync(helperPath, constants.X_OK);
  } catch (e) {
    throw new Error(`PAM helper ${helperPath} is not executable (${(e as NodeJS.ErrnoException).code}); run npm run install to build it`);
  }
  const a = new PamAuthenticator(
    {
      helperPath,
      helpers: o.threads,
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
