import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { Crypt } from '../src/native/crypt.js';

/**
 * What this machine can hash with every core busy and nothing else: crypt_rn called straight from
 * the addon, one job per core. A crypt-bound daemon cannot beat this; the bench reports the share
 * of it each daemon reaches.
 */
export async function hashCapacity(method: 'sha-512' | 'yescrypt', seconds = 3, maxCount = 5000): Promise<number> {
  const hash = execFileSync('mkpasswd', ['-m', method, '--stdin'], { input: 'capacity pw', encoding: 'utf8' }).trim();
  const cores = availableParallelism();
  const crypt = new Crypt(cores);
  const pw = Buffer.from('capacity pw');
  let done = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (done < maxCount && performance.now() < until) {
      if (!(await crypt.verify(pw, hash))) throw new Error('capacity hash did not verify');
      done++;
    }
  };
  await Promise.all(Array.from({ length: cores }, worker));
  return done / ((performance.now() - start) / 1000);
}
