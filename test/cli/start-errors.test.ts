import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datagramSink } from '../fixtures/datagram.js';
import { startOurs, waitForOutput } from '../fixtures/daemon.js';
import { DAEMON_BIN } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';
import { writeUserFiles } from '../fixtures/user-files.js';

// Issue 14 item 7: each start-up error names what to fix, once.

let dir: string;
let files: { passwd: string; shadow: string };
const daemon = (args: string[], env?: NodeJS.ProcessEnv) => run(process.execPath, [DAEMON_BIN, '--fail-delay', '0', ...args], { env: env ?? process.env });
const SHADOW = (): string[] => ['-a', 'shadow', '--passwd-file', files.passwd, '--shadow-file', files.shadow];

beforeAll(() => {
  dir = mkdtempSync('/tmp/sat_lg-errors-');
  chmodSync(dir, 0o755);
  files = writeUserFiles(dir, [{ name: 'sat_lg_e1', hash: '!' }]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const count = (text: string, part: string): number => text.split(part).length - 1;

describe('start-up errors', () => {
  it('a fatal error is printed once (stderr log), and once to stderr beside syslog', async () => {
    const r = await daemon([...SHADOW(), '--allow-uid', 'sat_lg_nosuchuser', '-m', join(dir, 'once')]);
    expect(r.code).toBe(1);
    expect(count(r.stderr, "user 'sat_lg_nosuchuser' does not exist")).toBe(1);
    const sink = datagramSink(join(dir, 'log'));
    try {
      const s = await daemon([...SHADOW(), '--allow-uid', 'sat_lg_nosuchuser', '-m', join(dir, 'once'), '--syslog-socket', sink.path]);
      expect(s.code).toBe(1);
      expect(s.stderr).toBe("saslauthd-ts: --allow-uid: user 'sat_lg_nosuchuser' does not exist (looked in /etc/passwd)\n");
      await sink.waitFor((m) => m.includes('FATAL') || m.includes("--allow-uid: user 'sat_lg_nosuchuser'"), 5_000, 'fatal line in syslog');
    } finally {
      sink.close();
    }
  });

  it('--route smtp=ldap with a missing LDAP config names ldap, the route and the config file, not the -a backend', async () => {
    const conf = join(dir, 'missing-saslauthd.conf');
    const r = await daemon([...SHADOW(), '--route', 'smtp=ldap', '--link-option', `ldap.o=${conf}`, '-m', join(dir, 'route')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`FATAL failed to initialize mechanism ldap \\(for --route smtp=ldap\\): ldap configuration ${conf}: cannot read: ENOENT\\n$`));
    expect(r.stderr).not.toContain('mechanism shadow');
  });

  it('--allow-uid nosuchuser names the flag and the user, no mechanism', async () => {
    const r = await daemon([...SHADOW(), '--allow-uid', 'sat_lg_nosuchuser', '-m', join(dir, 'uid')]);
    expect(r.stderr).toMatch(/FATAL --allow-uid: user 'sat_lg_nosuchuser' does not exist \(looked in \/etc\/passwd\)\n$/);
    expect(r.stderr).not.toContain('mechanism');
  });

  it('the SECURITY warning names a real group option: --socket-group sasl', async () => {
    // A run directory every user may search, and the default socket mode 0777: anyone can connect.
    mkdirSync(join(dir, 'open'));
    chmodSync(join(dir, 'open'), 0o755);
    const d = await startOurs(SHADOW(), { dir: join(dir, 'open') });
    // The warning comes after the socket is bound, so it may not be written yet when startOurs returns.
    await waitForOutput(d, 'SECURITY:');
    await d.stop();
    const line = d.output().split('\n').find((l) => l.includes('SECURITY:'));
    expect(line).toContain(`or use --socket-mode 0660 --socket-group sasl path=${join(dir, 'open', 'mux')} `);
    expect(line).toContain(`(chgrp sasl ${join(dir, 'open')} && chmod 0710 ${join(dir, 'open')})`);
  });

  it('a non-root start says it needs root and what for, not a bare EPERM/EACCES', async () => {
    const env = { ...process.env, HOME: '/nonexistent' };
    // The run directory's parent (root's, 0755) lets nobody create nothing.
    mkdirSync(join(dir, 'rootonly'), { mode: 0o755 });
    const asNobody = (args: string[]) => run('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, DAEMON_BIN, '--fail-delay', '0', '-a', 'getpwent', ...args], { env });
    const mk = await asNobody(['-m', join(dir, 'rootonly', 'run')]);
    expect(mk.code).toBe(1);
    expect(mk.stderr).toContain(`FATAL cannot create run directory ${join(dir, 'rootonly', 'run')}: EACCES: permission denied, mkdir '${join(dir, 'rootonly', 'run')}'. ` +
      `saslauthd-ts is running as nobody (uid 65534), not root: creating ${join(dir, 'rootonly', 'run')} needs root. Start it as root`);
    // In sticky /tmp nobody may create the directory but not give it group sasl.
    const sticky = `/tmp/sat_lg-nobody-${process.pid}`;
    const grp = await asNobody(['-m', sticky]);
    expect(grp.code).toBe(1);
    expect(grp.stderr).toContain(`saslauthd-ts is running as nobody (uid 65534), not root: giving ${sticky} its group needs root. Start it as root`);
    const shadow = await run('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, DAEMON_BIN, '-a', 'shadow', '-m', join(dir, 'rootonly', 'run')], { env });
    expect(shadow.stderr).toContain("FATAL failed to initialize mechanism shadow: EACCES: permission denied, open '/etc/shadow'. saslauthd-ts is running as nobody (uid 65534), not root: reading /etc/shadow needs root.");
  });

  it('a misspelt LDAP key gets "did you mean", not the list of every key', async () => {
    const conf = join(dir, 'typo.conf');
    writeFileSync(conf, 'ldap_servers: ldap://127.0.0.1:27301/\nldap_serach_base: dc=example,dc=org\n');
    const r = await daemon(['-a', 'ldap', '-O', conf, '-m', join(dir, 'typo')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`FATAL failed to initialize mechanism ldap: ldap configuration ${conf}:2: ldap_serach_base: unknown key; did you mean ldap_search_base\\?\\n$`));
    writeFileSync(conf, 'ldap_servers: ldap://127.0.0.1:27301/\nkrb5_keytab: /etc/krb5.keytab\n');
    const far = await daemon(['-a', 'ldap', '-O', conf, '-m', join(dir, 'typo')]);
    expect(far.stderr).toContain(`${conf}:2: krb5_keytab: unknown key (not one of the `);
    expect(far.stderr).not.toContain('ldap_group_scope');
  });

  it('a wrong --config-file path names the file', async () => {
    const r = await daemon(['--config-file', join(dir, 'no-such-defaults'), '-m', join(dir, 'cf')]);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toBe(`saslauthd-ts: --config-file ${join(dir, 'no-such-defaults')}: no such file, and no -a: no authentication mechanism specified\nTry 'saslauthd-ts --help'.\n`);
  });

  it('a bad flag inside the env file OPTIONS names the file', async () => {
    const env = join(dir, 'defaults');
    writeFileSync(env, 'MECHANISMS="shadow"\nOPTIONS="-c --cache-tll 60"\n');
    const r = await daemon(['--config-file', env, '-m', join(dir, 'cf')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`saslauthd-ts: ${env} (MECHANISMS, MECH_OPTIONS, THREADS, OPTIONS): unknown option '--cache-tll'\n(Did you mean --cache-ttl?)\nTry 'saslauthd-ts --help'.\n`);
    // The same mistake on the command line is not blamed on the file.
    writeFileSync(env, 'MECHANISMS="shadow"\n');
    const cl = await daemon(['--config-file', env, '--cache-tll', '60', '-m', join(dir, 'cf')]);
    expect(cl.stderr).toBe("saslauthd-ts: unknown option '--cache-tll'\n(Did you mean --cache-ttl?)\nTry 'saslauthd-ts --help'.\n");
  });

  it('--help shows modes in octal as written (0777, 0710)', async () => {
    const r = await daemon(['--help']);
    expect(r.stdout).toMatch(/--socket-mode <mode> +socket file mode \(octal\) \(default: 0777\)\n/);
    expect(r.stdout).toMatch(/--run-dir-mode <mode> +mode for a run directory we create \(octal\) \(default: 0710\)\n/);
    expect(r.stdout).not.toMatch(/default: (511|456)\)/);
  });
});
