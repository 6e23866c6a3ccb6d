import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unreadableBy } from '../../src/auth/privilege.js';
import { admitter } from '../../src/server/access.js';

describe('admitter (--allow-uid/--allow-gid)', () => {
  const peer = (uid: number, gid: number, groups: number[] = []) => ({ pid: 1, uid, gid, groups });

  it('admits everyone when no list is given', () => {
    expect(admitter({ allowUids: [], allowGids: [] })).toBeUndefined();
  });

  it('admits by uid, primary gid or supplementary gid, and refuses the rest with a reason', () => {
    const admit = admitter({ allowUids: [0], allowGids: [45] })!;
    expect(admit(peer(0, 0))).toBeNull();
    expect(admit(peer(107, 45))).toBeNull();
    expect(admit(peer(107, 113, [7, 45]))).toBeNull();
    expect(admit(peer(65534, 65534, [100]))).toBe('uid 65534 gid 65534 is not in --allow-uid/--allow-gid');
  });

  it('fails closed when the credentials could not be read', () => {
    expect(admitter({ allowUids: [0], allowGids: [] })!(undefined)).toMatch(/unavailable/);
  });
});

describe('unreadableBy (privilege drop pre-check)', () => {
  const dir = mkdtempSync('/tmp/sat_rel_acc-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const nobody = { user: 'nobody', uid: 65534, gid: 65534, groups: [65534] };

  it('judges owner, group and other bits, and the directories above', () => {
    chmodSync(dir, 0o755);
    const f = join(dir, 'file');
    writeFileSync(f, 'x');
    chownSync(f, 0, 65534);
    chmodSync(f, 0o600);
    expect(unreadableBy(f, nobody)).toMatch(/is not readable by nobody/);
    chmodSync(f, 0o640);
    expect(unreadableBy(f, nobody)).toBeNull(); // by group
    chownSync(f, 0, 0);
    expect(unreadableBy(f, nobody)).toMatch(/is not readable/);
    chmodSync(f, 0o644);
    expect(unreadableBy(f, nobody)).toBeNull(); // by other
    chmodSync(dir, 0o700);
    expect(unreadableBy(f, nobody)).toMatch(/cannot be searched by nobody/);
    chmodSync(dir, 0o755);
    expect(unreadableBy(join(dir, 'missing'), nobody)).toMatch(/ENOENT/);
  });
});
