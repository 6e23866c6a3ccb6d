import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAEMON_BIN } from '../../fixtures/paths.js';
import { run } from '../../fixtures/run.js';
import { saslpasswd } from '../../fixtures/sasldb.js';

let dir: string;
let db: string;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat_sd-cli-');
  db = join(dir, 'sasldb2');
  await saslpasswd(db, 'sat_sd_a', 'pw', hostname());
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const daemon = (args: string[]) => run(process.execPath, [DAEMON_BIN, ...args, '-m', join(dir, 'run')]);

describe('-a sasldb on the command line', () => {
  it('--check names the file and the realm an empty one stands for', async () => {
    const r = await daemon(['-a', 'sasldb', '-O', db, '--check']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`sasldb: ${db} (Cyrus sasldb2, Berkeley DB); an empty realm means the host name "${hostname()}"\n`);
    expect(r.stdout).toContain('configuration OK\n');
  });

  it('a missing file, a file that is not a sasldb, or a relative path: exit 1 naming the file', async () => {
    const missing = await daemon(['-a', 'sasldb', '-O', join(dir, 'nope'), '--check']);
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining(`failed to initialize mechanism sasldb: ${join(dir, 'nope')} does not exist`)]);
    const junk = join(dir, 'junk');
    writeFileSync(junk, 'MECHANISMS="sasldb"\n');
    const notDb = await daemon(['-a', 'sasldb', '-O', junk, '--check']);
    expect([notDb.code, notDb.stderr]).toEqual([1, expect.stringContaining(`cannot read ${junk} as a sasldb2 (Berkeley DB hash) file`)]);
    const relative = await daemon(['-a', 'sasldb', '-O', 'sasldb2', '--check']);
    expect([relative.code, relative.stderr]).toEqual([1, expect.stringContaining("the sasldb file must be an absolute path, got 'sasldb2'")]);
  });

  it('in a chain, --link-option sasldb.o=FILE gives sasldb its own file while -O goes to the others', async () => {
    const r = await daemon(['-a', 'sasldb,rimap', '-O', '127.0.0.1/26999', '--link-option', `sasldb.o=${db}`, '--check']);
    expect(r.stdout).toContain(`[sasldb] sasldb: ${db} (Cyrus sasldb2, Berkeley DB)`);
    // -O went to rimap, whose server is not there: --check probes it and says so (issue 14).
    expect(r.stdout).toMatch(/\nerror: rimap: 127\.0\.0\.1:26999: connect: .*ECONNREFUSED/);
    expect(r.code).toBe(1);
  });

  it('-v lists sasldb first, as saslauthd does', async () => {
    const r = await daemon(['-v']);
    expect(r.stderr).toMatch(/^authentication mechanisms: sasldb /m);
  });
});
