/**
 * The follow-up engine's notion of "now" (issue 6): what is due, overdue, missed or too old to
 * follow up is decided against a Clock, so a test — or a demo — can move time forward three days
 * and watch the missed-report Task appear, without waiting three days. In production the clock is
 * the system clock. With CAREBRIDGE_TEST_CLOCK=1 it is a TestClock: system time plus an offset
 * that POST /admin/clock sets, so time keeps flowing after a jump.
 *
 * Only the follow-up engine and its scheduled jobs read this clock. Resource timestamps
 * (meta.lastUpdated), HL7 receipt times and subscription retries stay on real time.
 */

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export class TestClock implements Clock {
  #offsetMs = 0;

  now(): Date {
    return new Date(Date.now() + this.#offsetMs);
  }

  /** Moves the clock to `instant`; it runs on from there. */
  set(instant: Date): Date {
    this.#offsetMs = instant.getTime() - Date.now();
    return this.now();
  }

  /** Moves the clock forward by an ISO 8601 duration such as `P3D` or `PT12H`. */
  advance(duration: string): Date {
    return this.set(addDuration(this.now(), duration));
  }
}

const DURATION = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * `instant` plus an ISO 8601 duration (PnYnMnWnDTnHnMnS, no sign). Years and months are calendar
 * steps (UTC), the rest fixed lengths. Throws a RangeError for anything else, or for P / PT alone.
 */
export function addDuration(instant: Date, duration: string): Date {
  const m = DURATION.exec(duration);
  if (!m || duration === 'P' || duration.endsWith('T')) throw new RangeError(`not an ISO 8601 duration: ${JSON.stringify(duration)} (e.g. P3D, PT12H, P1M)`);
  const [years, months, weeks, days, hours, minutes] = m.slice(1, 7).map((v) => Number(v ?? 0)) as [number, number, number, number, number, number];
  const seconds = Number(m[7] ?? 0);
  const result = new Date(instant.getTime());
  if (years || months) result.setUTCMonth(result.getUTCMonth() + years * 12 + months);
  result.setTime(result.getTime() + ((((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000);
  return result;
}
