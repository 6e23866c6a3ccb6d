import { describe, expect, it } from 'vitest';
import { DURATION_BUCKETS_S, RequestStats } from '../../src/stats/request-stats.js';

describe('request statistics', () => {
  it('counts outcomes, fills cumulative buckets and takes percentiles of the recent requests', () => {
    const s = new RequestStats();
    for (let i = 1; i <= 100; i++) s.recordRequest(i % 10 === 0 ? 'rejected' : 'ok', i / 1000);
    s.recordRequest('malformed', null);
    const r = s.requests();
    expect(r.outcomes).toEqual({ ok: 90, rejected: 10, unavailable: 0, malformed: 1, error: 0 });
    expect(r.count).toBe(100);
    expect(r.sumSeconds).toBeCloseTo(5.05, 9);
    expect(r.buckets).toHaveLength(DURATION_BUCKETS_S.length + 1);
    // le=0.001: 1 request; le=0.01: 10; le=0.1: 100; +Inf: 100.
    expect(r.buckets[0]).toBe(1);
    expect(r.buckets[DURATION_BUCKETS_S.indexOf(0.01)]).toBe(10);
    expect(r.buckets[DURATION_BUCKETS_S.indexOf(0.1)]).toBe(100);
    expect(r.buckets.at(-1)).toBe(100);
    expect([r.p50Ms, r.p90Ms, r.p99Ms]).toEqual([50, 90, 99]);
  });

  it('keeps one series per backend name, and only the last 1024 requests for percentiles', () => {
    const s = new RequestStats();
    for (let i = 0; i < 2000; i++) s.recordBackend('ldap', 'ok', i < 900 ? 10 : 0.001);
    s.recordBackend('shadow', 'error', 0.002);
    const b = s.backends();
    expect([...b.keys()]).toEqual(['ldap', 'shadow']);
    expect(b.get('ldap')!.p99Ms).toBe(1);
    expect(b.get('ldap')!.count).toBe(2000);
    expect(b.get('shadow')!.outcomes.error).toBe(1);
    expect(s.requests().p50Ms).toBeNull();
  });
});
