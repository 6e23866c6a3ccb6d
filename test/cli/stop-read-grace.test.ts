import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest } from '../../src/protocol/request-encoder.js';
import { startOurs, waitForOutput } from '../fixtures/daemon.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';

// A restart (package upgrade, systemctl restart) sends SIGTERM while clients are connecting. A
// client the old daemon accepted but whose request had not arrived yet was dropped: its write
// then failed with EPIPE, a lost request although the socket unit kept every other one queued.
const USER = 'sat_pk_grace';
const PASSWORD = 'Grace pw 1';

beforeAll(async () => ensureUser(USER, await mkpasswd(PASSWORD, 'sha-512')));
afterAll(() => removeUser(USER));

describe('SIGTERM and a connection without its request yet', () => {
  it('reads the request that arrives just after the stop and answers it', async () => {
    const d = await startOurs(['-a', 'shadow', '--debug']);
    try {
      const sock = connect(d.socket);
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', () => resolve());
        sock.once('error', reject);
      });
      await waitForOutput(d, 'connection accepted');
      let reply = '';
      sock.on('data', (b: Buffer) => (reply += b.toString('latin1')));
      let error: string | null = null;
      sock.on('error', (e) => (error = e.message));
      const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      d.proc.kill('SIGTERM');
      await waitForOutput(d, 'shutting down: finishing requests in progress');
      sock.write(encodeRequest([USER, PASSWORD, 'smtp', '']));
      await closed;
      expect(error).toBe(null);
      expect(reply).toBe('\x00\x02OK');
      expect(await d.stop()).toBe(0);
    } finally {
      await d.stop('SIGKILL');
    }
  });
});
