import { createRequire } from 'node:module';

/** The raw addon's exports. Each feature file in addon/ adds its functions here. */
export interface NativeBinding {
  verify(password: Buffer, hash: string): Promise<boolean>;
  hash(password: Buffer, setting: string): Promise<string | null>;
  gensalt(prefix: string, rounds: number): string | null;
  /** SO_PEERCRED (+ SO_PEERGROUPS: supplementary gids) of a connected UNIX socket; throws with the errno text when the kernel refuses. */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number; groups: number[] };
}

const require = createRequire(import.meta.url);

// src/native/*.ts (tests) and dist/native/*.js (installed) both sit two levels below the root.
export const native: NativeBinding = require('../../build/Release/saslauthd_native.node') as NativeBinding;
