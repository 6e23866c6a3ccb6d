import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argsFromEnvFile } from '../../src/config/env-file.js';
import { DAEMON_BIN, ROOT } from '../fixtures/paths.js';
import { run } from '../fixtures/run.js';

const UNITS = join(ROOT, 'systemd');
const INSTALLED_BIN = '/usr/local/sbin/saslauthd-ts';
let dir: string;

beforeAll(() => {
  dir = mkdtempSync('/tmp/sat-pf-units-');
  // verify insists ExecStart's binary exists; check a copy that points at the built one instead.
  const service = readFileSync(join(UNITS, 'saslauthd-ts.service'), 'utf8');
  expect(service).toContain(`ExecStart=${INSTALLED_BIN} --config-file /etc/default/saslauthd-ts`);
  writeFileSync(join(dir, 'saslauthd-ts.service'), service.replaceAll(INSTALLED_BIN, DAEMON_BIN));
  writeFileSync(join(dir, 'saslauthd-ts.socket'), readFileSync(join(UNITS, 'saslauthd-ts.socket')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('systemd units', () => {
  it('pass systemd-analyze verify without a single warning', async () => {
    const r = await run('systemd-analyze', ['verify', join(dir, 'saslauthd-ts.socket'), join(dir, 'saslauthd-ts.service')]);
    expect(r.stderr + r.stdout).toBe('');
    expect(r.code).toBe(0);
  });

  it('the check can fail: a broken key is reported', async () => {
    const bad = join(dir, 'bad');
    rmSync(bad, { recursive: true, force: true });
    (await import('node:fs')).mkdirSync(bad);
    writeFileSync(join(bad, 'saslauthd-ts.service'), readFileSync(join(dir, 'saslauthd-ts.service'), 'utf8').replace('Type=notify', 'Type=notifyy'));
    const r = await run('systemd-analyze', ['verify', join(bad, 'saslauthd-ts.service')]);
    expect(r.stderr).toContain('Failed to parse service type');
  });

  it('declare what the daemon relies on', () => {
    const service = readFileSync(join(UNITS, 'saslauthd-ts.service'), 'utf8');
    const socket = readFileSync(join(UNITS, 'saslauthd-ts.socket'), 'utf8');
    for (const line of ['Type=notify', 'EnvironmentFile=-/etc/default/saslauthd-ts', 'RuntimeDirectory=saslauthd', 'NoNewPrivileges=yes',
      'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=CAP_DAC_READ_SEARCH', 'ExecReload=/bin/kill -HUP $MAINPID']) {
      expect(service.split('\n')).toContain(line);
    }
    expect(service).toMatch(/^RestrictAddressFamilies=AF_UNIX/m);
    for (const line of ['ListenStream=/run/saslauthd/mux', 'ListenStream=/var/spool/postfix/var/run/saslauthd/mux', 'SocketGroup=sasl', 'SocketMode=0660']) {
      expect(socket.split('\n')).toContain(line);
    }
  });

  it('the shipped defaults file builds the command line Debian would', () => {
    expect(argsFromEnvFile(join(UNITS, 'saslauthd-ts.default'), {})).toEqual(['-a', 'shadow', '-c', '-m', '/run/saslauthd', '-n', '5']);
  });
});

describe('Debian defaults file', () => {
  it('takes MECHANISMS, MECH_OPTIONS, THREADS, OPTIONS; the file wins over the environment; a missing file is empty', () => {
    const f = join(dir, 'defaults');
    writeFileSync(f, [
      '# comment', 'START=yes', 'export MECHANISMS=\'ldap\'', 'MECH_OPTIONS="/etc/saslauthd.conf"', 'OPTIONS="-c -m /var/spool/postfix/var/run/saslauthd -r"', '',
    ].join('\n'));
    expect(argsFromEnvFile(f, { MECHANISMS: 'pam', THREADS: '7' })).toEqual([
      '-a', 'ldap', '-O', '/etc/saslauthd.conf', '-c', '-m', '/var/spool/postfix/var/run/saslauthd', '-r', '-n', '7',
    ]);
    expect(argsFromEnvFile(join(dir, 'absent'), { MECHANISMS: 'shadow' })).toEqual(['-a', 'shadow']);
    writeFileSync(f, 'MECHANISMS shadow\n');
    expect(() => argsFromEnvFile(f, {})).toThrow(/line 1: expected NAME=value/);
  });
});
