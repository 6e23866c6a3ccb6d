import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes passwd and shadow files for --passwd-file/--shadow-file (no system users needed). */
export function writeUserFiles(dir: string, users: readonly { name: string; hash: string }[], suffix = ''): { passwd: string; shadow: string } {
  const passwd = join(dir, `passwd${suffix}`);
  const shadow = join(dir, `shadow${suffix}`);
  const today = Math.floor(Date.now() / 86_400_000);
  writeFileSync(passwd, users.map((u, i) => `${u.name}:x:${20000 + i}:${20000 + i}::/nonexistent:/usr/sbin/nologin\n`).join(''));
  writeFileSync(shadow, users.map((u) => `${u.name}:${u.hash}:${today}:0:99999:7:::\n`).join(''), { mode: 0o600 });
  return { passwd, shadow };
}
