/**
 * Length of stay as LACE counts it: calendar days in the hospital's time zone, the admission and
 * the discharge day both counted (admitted and discharged the same day = 1 day).
 */
function calendarDay(instant: string, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return Date.UTC(get('year'), get('month') - 1, get('day')) / 86_400_000;
}

export function lengthOfStayDays(admitted: string, discharged: string, timeZone: string): number {
  if (Number.isNaN(Date.parse(admitted)) || Number.isNaN(Date.parse(discharged))) throw new RangeError(`length of stay needs two date-times, got ${admitted} and ${discharged}`);
  const days = calendarDay(discharged, timeZone) - calendarDay(admitted, timeZone) + 1;
  if (days < 1) throw new RangeError(`discharge ${discharged} is before admission ${admitted}`);
  return days;
}
