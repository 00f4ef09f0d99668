/**
 * The follow-up clock over HTTP (issue 6, "Test clock"):
 *
 *   GET  /admin/clock   {"now": "<instant>", "testClock": true|false}
 *   POST /admin/clock   {"now": "<instant>"} or {"advanceBy": "P3D"} — only with
 *                       CAREBRIDGE_TEST_CLOCK=1 (403 otherwise). Moves the clock, then runs every
 *                       scheduled job that became due (the follow-up sweep: missed reports,
 *                       overdue tasks, adherence) before it answers
 *                       {"now", "previous", "jobsRun"}.
 *
 * Same boundary as the other /admin APIs: no authentication yet, keep it behind a network boundary.
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../fhir/index.ts';
import type { Clock, TestClock } from './clock.ts';
import { addDuration } from './clock.ts';

export interface ClockRouteOptions {
  clock: Clock;
  /** Present only under CAREBRIDGE_TEST_CLOCK=1 (the same object as `clock`). */
  testClock: TestClock | undefined;
  scheduler: { runAllDue(): Promise<number>; clockMovedBack(): Promise<void> };
}

/** An instant with a time zone (Z or ±hh:mm), as FHIR's instant type. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

function target(body: unknown, now: Date): Date {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw errors.invalidClockRequest('send a JSON object: {"now": "2024-03-25T09:00:00+08:00"} or {"advanceBy": "P3D"}');
  const { now: at, advanceBy, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw errors.invalidClockRequest(`unknown field(s) ${unknown.join(', ')}: send only "now" or "advanceBy"`, unknown);
  if ((at === undefined) === (advanceBy === undefined)) throw errors.invalidClockRequest('send exactly one of "now" and "advanceBy"', ['now', 'advanceBy']);
  if (at !== undefined) {
    if (typeof at !== 'string' || !INSTANT.test(at) || Number.isNaN(Date.parse(at))) throw errors.invalidClockRequest(`"now" must be an instant with a time zone such as 2024-03-25T09:00:00+08:00, got ${JSON.stringify(at)}`, ['now']);
    return new Date(at);
  }
  try {
    return addDuration(now, advanceBy as string);
  } catch {
    throw errors.invalidClockRequest(`"advanceBy" must be an ISO 8601 duration such as P3D or PT12H, got ${JSON.stringify(advanceBy)}`, ['advanceBy']);
  }
}

export function registerClockRoutes(app: FastifyInstance, options: ClockRouteOptions): void {
  app.get('/admin/clock', async () => ({ now: options.clock.now().toISOString(), testClock: options.testClock !== undefined }));
  app.post('/admin/clock', async (req) => {
    const clock = options.testClock;
    if (!clock) throw errors.testClockDisabled();
    const previous = clock.now();
    const now = clock.set(target(req.body, previous));
    if (now < previous) await options.scheduler.clockMovedBack();
    const jobsRun = await options.scheduler.runAllDue();
    return { now: clock.now().toISOString(), previous: previous.toISOString(), jobsRun };
  });
}
