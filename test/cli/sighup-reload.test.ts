import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest } from '../../src/protocol/index.js';
import { datagramSink } from '../fixtures/datagram.js';
import { type RunningDaemon, startOurs } from '../fixtures/daemon.js';
import { verdict } from '../fixtures/testsaslauthd.js';
import { mkpasswd } from '../fixtures/users.js';
import { writeUserFiles } from '../fixtures/user-files.js';

let dir: string;
let conf: string;
let first: { passwd: string; shadow: string };
let second: { passwd: string; shadow: string };

beforeAll(async () => {
  dir = mkdtempSync('/tmp/sat-pf-hup-');
  conf = join(dir, 'saslauthd-ts');
  first = writeUserFiles(dir, [{ name: 'sat_pf_h1', hash: await mkpasswd('before reload', 'sha-512') }], '1');
  second = writeUserFiles(dir, [
    { name: 'sat_pf_h1', hash: await mkpasswd('after reload', 'yescrypt') },
    { name: 'sat_pf_h2@example.org', hash: await mkpasswd('realm pw', 'sha-512') },
  ], '2');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Debian's /etc/default/saslauthd layout, START/DESC included (they are ignored). */
function writeConf(files: { passwd: string; shadow: string }, extra = '', mechanisms = 'shadow'): void {
  writeFileSync(conf, [
    '# test defaults file',
    'START=yes',
    'DESC="SASL Authentication Daemon"',
    `MECHANISMS="${mechanisms}"`,
    'MECH_OPTIONS=""',
    'THREADS=3',
    `OPTIONS="--passwd-file ${files.passwd} --shadow-file ${files.shadow}${extra}"`,
    '',
  ].join('\n'));
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;

async function hup(d: RunningDaemon, expectLine: string): Promise<void> {
  const before = count(d.output(), expectLine);
  d.proc.kill('SIGHUP');
  for (let waited = 0; count(d.output(), expectLine) === before; waited += 25) {
    if (waited > 60_000) throw new Error(`no '${expectLine}' after SIGHUP:\n${d.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Sends a request in two parts, with `between` run in the middle; resolves with the raw reply bytes. */
function splitRequest(socket: string, fields: string[], between: () => Promise<void>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const bytes = encodeRequest(fields);
    const s = connect({ path: socket });
    const got: Buffer[] = [];
    s.on('data', (b: Buffer) => got.push(b));
    s.on('end', () => {
      s.end();
      resolve(Buffer.concat(got));
    });
    s.on('error', reject);
    s.once('connect', () => {
      s.write(bytes.subarray(0, 5));
      between().then(() => s.write(bytes.subarray(5)), reject);
    });
  });
}

describe('SIGHUP', () => {
  it('re-reads --config-file and the user files without dropping a connection; a broken config is refused', async () => {
    writeConf(first);
    const sink = datagramSink(join(dir, 'notify'));
    const d = await startOurs(['--config-file', conf, '--request-timeout', '120000'], { env: { ...process.env, NOTIFY_SOCKET: sink.path } });
    try {
      expect(await verdict(d.socket, 'sat_pf_h1', 'before reload')).toBe('OK');
      expect(d.output()).toContain(`loaded user file mech=shadow file=${first.shadow}`);

      // Good config, reloaded while a client is half-way through its request.
      writeConf(second);
      const reply = await splitRequest(d.socket, ['sat_pf_h1', 'after reload', 'imap', ''], () => hup(d, 'configuration reloaded'));
      expect(reply).toEqual(Buffer.from('\x00\x02OK'));
      expect(await verdict(d.socket, 'sat_pf_h1', 'after reload')).toBe('OK');
      expect(await verdict(d.socket, 'sat_pf_h1', 'before reload')).toBe('NO');
      expect(d.output()).toContain(`loaded user file mech=shadow file=${second.shadow}`);
      // systemd hears about it: RELOADING=1, then READY=1 again.
      await sink.waitFor((m) => m.startsWith('RELOADING=1\nMONOTONIC_USEC='), 10_000, 'RELOADING=1');
      expect(sink.messages.filter((m) => m.startsWith('READY=1')).length).toBeGreaterThanOrEqual(2);

      // Handler options change too: -r folds the realm in from now on.
      expect(await verdict(d.socket, 'sat_pf_h2', 'realm pw', { realm: 'example.org' })).toBe('NO');
      writeConf(second, ' -r');
      await hup(d, 'configuration reloaded');
      expect(await verdict(d.socket, 'sat_pf_h2', 'realm pw', { realm: 'example.org' })).toBe('OK');

      // Broken configurations: refused, logged, the running one stays.
      writeConf(second, ' -r', 'nosuchmech');
      await hup(d, 'reload refused');
      expect(d.output()).toMatch(/ERROR reload refused, keeping the running configuration: bad configuration: unknown authentication mechanism: nosuchmech/);
      expect(await verdict(d.socket, 'sat_pf_h1', 'after reload')).toBe('OK');

      writeConf({ passwd: second.passwd, shadow: join(dir, 'no-such-shadow') }, ' -r');
      await hup(d, 'reload refused');
      expect(d.output()).toMatch(/reload refused, keeping the running configuration: .*no-such-shadow/);
      expect(await verdict(d.socket, 'sat_pf_h1', 'after reload')).toBe('OK');

      writeFileSync(conf, 'MECHANISMS="shadow\n');
      await hup(d, 'reload refused');
      expect(d.output()).toMatch(/reload refused, keeping the running configuration: bad configuration: unterminated "/);
      expect(await verdict(d.socket, 'sat_pf_h2', 'realm pw', { realm: 'example.org' })).toBe('OK');

      // Socket settings cannot change under a running listener: applied to nothing, and said so.
      writeConf(second, ' -r --socket-mode 0600');
      await hup(d, 'configuration reloaded');
      expect(d.output()).toContain('reload: socketMode changed; socket and process settings take effect only after a restart');
      expect(await verdict(d.socket, 'sat_pf_h1', 'after reload')).toBe('OK');

      expect(d.proc.exitCode).toBeNull();
      expect(await d.stop()).toBe(0);
    } finally {
      await d.stop('SIGKILL');
      sink.close();
    }
  });
});
