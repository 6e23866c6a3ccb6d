import { fileURLToPath } from 'node:url';
import { unixDgramLoadProblem } from '../io/unix-datagram.js';
import { nativeLoadProblem } from '../native/binding.js';

/**
 * What an admin reads when a compiled part is missing (install scripts blocked, or a clone where
 * `npm ci` ran with --ignore-scripts): which file, why, and the commands that build it.
 * Null when the addon and unix-dgram both loaded.
 */
export function missingNativeParts(): string | null {
  const problems = [nativeLoadProblem, unixDgramLoadProblem].filter((p): p is string => p !== null);
  if (problems.length === 0) return null;
  // src/cli and dist/cli both sit two levels below the package root.
  const root = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
  return [
    'the compiled parts are not built (were the install scripts blocked?):',
    ...problems.map((p) => `  ${p}`),
    `Build them (needs build-essential python3 libcrypt-dev libpam0g-dev): cd ${root} && npm rebuild --foreground-scripts`,
    'or reinstall the npm package with its scripts allowed (npm 11 allows a tarball by its absolute path):',
    '  npm install -g --allow-scripts=unix-dgram,/path/to/saslauthd-ts-<version>.tgz /path/to/saslauthd-ts-<version>.tgz',
  ].join('\n');
}
