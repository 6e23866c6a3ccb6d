import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DAEMON_BIN = join(ROOT, 'bin', 'saslauthd-ts');
export const CLIENT_BIN = join(ROOT, 'bin', 'testsaslauthd-ts');
