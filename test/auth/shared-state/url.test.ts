import { describe, expect, it } from 'vitest';
import { parseSharedStateUrl } from '../../../src/auth/shared-state/url.js';
import { UsageError } from '../../../src/errors.js';

describe('--shared-state URL', () => {
  it('redis:// with password and db: credentials kept, never shown', () => {
    const u = parseSharedStateUrl('redis://app:s3cr%40t@10.0.0.5:6380/3');
    expect(u).toEqual({ kind: 'single', tls: false, nodes: [{ host: '10.0.0.5', port: 6380 }], masterName: null, db: 3, username: 'app', password: 's3cr@t', shown: 'redis://app:***@10.0.0.5:6380/3' });
  });

  it('a bare password before @ (redis-cli style) is a password', () => {
    const u = parseSharedStateUrl('rediss://hunter2@redis.example.org');
    expect([u.tls, u.username, u.password, u.shown, u.nodes]).toEqual([true, null, 'hunter2', 'rediss://***@redis.example.org', [{ host: 'redis.example.org', port: 6379 }]]);
  });

  it('an unescaped / or @ in the password stays in the password', () => {
    expect(parseSharedStateUrl('redis://u:a/b@c@h:1')).toMatchObject({ username: 'u', password: 'a/b@c', nodes: [{ host: 'h', port: 1 }], shown: 'redis://u:***@h:1' });
  });

  it('Sentinel: several sentinels, master name, default port 26379', () => {
    const u = parseSharedStateUrl('redis-sentinel://:pw@h1,h2:26380,[::1]/mymaster/2');
    expect(u).toMatchObject({ kind: 'sentinel', masterName: 'mymaster', db: 2, password: 'pw', nodes: [{ host: 'h1', port: 26379 }, { host: 'h2', port: 26380 }, { host: '::1', port: 26379 }] });
    expect(u.shown).toBe('redis-sentinel://***@h1,h2:26380,[::1]/mymaster/2');
  });

  it('Cluster: seed nodes, TLS variant', () => {
    const u = parseSharedStateUrl('rediss-cluster://h1:7000,h2:7001');
    expect(u).toMatchObject({ kind: 'cluster', tls: true, nodes: [{ host: 'h1', port: 7000 }, { host: 'h2', port: 7001 }] });
  });

  it.each([
    ['http://h', 'is not a redis://'],
    ['redis://h1,h2', 'names several hosts'],
    ['redis-sentinel://h1:26379', 'names no master group'],
    ['redis-cluster://h:7000/1', 'a cluster has only database 0'],
    ['redis://h:99999', 'bad port'],
    ['redis://h/x', "bad database 'x'"],
    ['redis://', 'names no host'],
  ])('%s is refused (%s)', (url, why) => {
    expect(() => parseSharedStateUrl(url)).toThrow(UsageError);
    expect(() => parseSharedStateUrl(url)).toThrow(why);
  });

  it('an error never repeats the password, even for a URL that does not parse', () => {
    for (const url of ['redis://u:topsecret@h:bad', 'redis://u:sec/ret@h:bad', 'redis://u:sec@ret@h:bad', 'redis://u:sec@ret@h/x', 'redis://u:%zzsecret@h', 'nope://u:topsecret@h']) {
      let message = '';
      try {
        parseSharedStateUrl(url);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/^--shared-state: /);
      expect(message).not.toContain('secret');
      expect(message).not.toContain('sec');
    }
  });
});
