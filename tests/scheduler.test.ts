// The scheduler (issue 5): delayed and recurring jobs in PostgreSQL, each run once across
// processes (two schedulers on one database here), retried with backoff when the handler fails,
// and still due after a restart (a new scheduler instance).
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { TestClock } from '../src/clock/clock.ts';
import { Scheduler } from '../src/subscriptions/scheduler/scheduler.ts';
import type { Job } from '../src/subscriptions/scheduler/scheduler.ts';
import { useTestServer } from './helpers/server.ts';

const server = useTestServer();
const schedulers: Scheduler[] = [];
afterAll(async () => {
  for (const s of schedulers) await s.stop();
});

const make = () => {
  const s = new Scheduler({ pool: server.pool, logger: pino({ level: 'silent' }), pollMs: 20, leaseMs: 5_000, retry: { baseMs: 100, maxMs: 400 } });
  schedulers.push(s);
  return s;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('scheduler', () => {
  it('runs a delayed job once, when due, even with two schedulers competing', async () => {
    const runs: Array<{ by: number; job: Job; at: number }> = [];
    const [a, b] = [make(), make()];
    a.handle('remind', async (job) => void runs.push({ by: 1, job, at: Date.now() }));
    b.handle('remind', async (job) => void runs.push({ by: 2, job, at: Date.now() }));
    a.start();
    b.start();
    const due = Date.now() + 300;
    for (let i = 0; i < 10; i++) await a.schedule({ key: `remind-${i}`, kind: 'remind', runAt: new Date(due), payload: { i } });
    await sleep(900);
    expect(runs.map((r) => r.job.key).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `remind-${i}`).sort());
    expect(runs.every((r) => r.at >= due - 5)).toBe(true);
    expect(runs.find((r) => r.job.key === 'remind-3')!.job.payload).toEqual({ i: 3 });
    expect((await server.pool.query(`SELECT count(*)::int AS n FROM scheduled_job WHERE kind = 'remind'`)).rows[0].n).toBe(0);
  });

  it('runs a recurring job on its cadence and retries a failing run with backoff', async () => {
    const s = make();
    let calls = 0;
    const times: number[] = [];
    s.handle('heartbeat', async () => {
      calls++;
      times.push(Date.now());
      if (calls === 2) throw new Error('endpoint down');
    });
    s.start();
    await s.schedule({ key: 'hb', kind: 'heartbeat', runAt: new Date(), everySeconds: 1 });
    await sleep(2_600);
    expect(calls).toBeGreaterThanOrEqual(3); // run, failed run, its retry (≥ 50 ms later), …
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(50);
    const row = (await server.pool.query(`SELECT every_seconds, last_error FROM scheduled_job WHERE key = 'hb'`)).rows[0];
    expect(row).toEqual({ every_seconds: 1, last_error: null });
    expect(await s.cancel('hb')).toBe(true);
  });

  it('keeps jobs across a restart: a job scheduled by a stopped scheduler runs on the next one', async () => {
    const first = make();
    await first.schedule({ key: 'later', kind: 'later', runAt: new Date(Date.now() + 200) });
    await first.stop();
    const ran: string[] = [];
    const second = make();
    second.handle('later', async (job) => void ran.push(job.key));
    second.start();
    await sleep(600);
    expect(ran).toEqual(['later']);
  });

  it('with a test clock: due by that clock, all due jobs run on request, a clock set back re-bases recurring jobs', async () => {
    const clock = new TestClock();
    clock.set(new Date('2025-09-30T04:00:00Z'));
    const s = new Scheduler({ pool: server.pool, logger: pino({ level: 'silent' }), pollMs: 60_000, leaseMs: 5_000, clock });
    schedulers.push(s);
    const runs: string[] = [];
    s.handle('clocked', async (job) => void runs.push(job.key));
    await s.schedule({ key: 'clocked-once', kind: 'clocked', runAt: new Date('2025-10-03T04:00:00Z') });
    await s.schedule({ key: 'clocked-daily', kind: 'clocked', runAt: new Date('2026-12-01T00:00:00Z'), everySeconds: 86_400 });
    expect(await s.runAllDue()).toBe(0); // nothing due on 30 September 2025, though the real date is later
    await s.clockMovedBack(); // the daily job, due in 2026, now comes a day after the clock's time
    clock.advance('P1DT1M');
    expect(await s.runAllDue()).toBe(1);
    expect(runs).toEqual(['clocked-daily']);
    clock.advance('P2D');
    expect(await s.runAllDue()).toBe(2); // the one-off job (3 October) and the daily one, once
    expect(runs.sort()).toEqual(['clocked-daily', 'clocked-daily', 'clocked-once']);
    const next = (await server.pool.query(`SELECT to_json(run_at) #>> '{}' AS at FROM scheduled_job WHERE key = 'clocked-daily'`)).rows[0].at as string;
    expect(Date.parse(next)).toBeGreaterThan(clock.now().getTime());
    expect(Date.parse(next) - clock.now().getTime()).toBeLessThanOrEqual(86_400_000);
  });
});
