import { describe, expect, it } from 'vitest';
import { describeComposition } from '../../src/auth/compose.js';
import { run, usage } from '../fixtures/daemon-args.js';


const KEY = ['--cache-key-file', '/etc/saslauthd-ts/fleet.key'];

describe('--shared-state and its flags', () => {
  it('off by default: nothing shared, no key file', () => {
    const o = run(['-a', 'shadow']);
    expect([o.sharedState, o.cacheKeyFile]).toEqual([null, null]);
    expect(describeComposition(o).join('\n')).not.toContain('shared state');
  });

  it('parses URL, deadline, prefix, CA; -v shows the URL without its password', () => {
    const o = run(['-a', 'shadow', '--shared-state', 'rediss://app:Pa55w0rd@r.example.org:6380/2', '--shared-state-timeout', '80', '--shared-state-prefix', 'mx:', '--shared-state-ca', '/etc/ssl/redis-ca.pem', ...KEY]);
    expect(o.sharedState).toMatchObject({ timeoutMs: 80, prefix: 'mx:', caFile: '/etc/ssl/redis-ca.pem', url: { kind: 'single', tls: true, db: 2, username: 'app', password: 'Pa55w0rd' } });
    expect(o.cacheKeyFile).toBe('/etc/saslauthd-ts/fleet.key');
    const lines = describeComposition(o).join('\n');
    expect(lines).toContain('shared state: rediss://app:***@r.example.org:6380/2 (single, TLS), 80 ms per call, keys saslauthd:mx:*; failure penalty counted fleet-wide, local state while Redis is down');
    expect(lines).not.toContain('Pa55w0rd');
    expect(run(['-a', 'shadow', '--shared-state', 'redis://h', ...KEY]).sharedState?.timeoutMs).toBe(50);
  });

  it('refuses what cannot work, and never echoes the password', () => {
    expect(usage(['-a', 'shadow', '--shared-state', 'redis://h'])).toBe('--shared-state needs --cache-key-file: password digests go to Redis only as HMACs under the fleet key');
    expect(usage(['-a', 'shadow', '--shared-state-ca', '/x.pem'])).toBe('--shared-state-ca needs --shared-state');
    expect(usage(['-a', 'shadow', '--shared-state', 'redis://h', '--shared-state-ca', '/x.pem', ...KEY])).toBe('--shared-state-ca needs a TLS URL (rediss://…), not redis://h');
    expect(usage(['-a', 'shadow', '--shared-state', 'redis://h', '--shared-state-prefix', 'a*b', ...KEY])).toMatch(/^--shared-state-prefix: 'a\*b' may hold only/);
    expect(usage(['-a', 'shadow', '--shared-state', 'redis://h', '--shared-state-timeout', '0', ...KEY])).toMatch(/shared-state-timeout/);
    expect(usage(['-a', 'shadow', '--cache-key-file', 'relative/key'])).toMatch(/cache-key-file/);
    const m = usage(['-a', 'shadow', '--shared-state', 'http://u:Pa55w0rd@h', ...KEY]);
    expect(m).toMatch(/^--shared-state: 'http:\/\/\*\*\*@h' is not a redis:\/\//);
    expect(m).not.toContain('Pa55w0rd');
  });
});
