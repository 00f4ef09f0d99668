/**
 * Chinese resident identity numbers (居民身份证号码, GB 11643-1999): 17 digits then a check
 * character. Digits 1–6 are the address code, 7–14 the birth date (YYYYMMDD), 15–17 the order
 * code (odd 17th digit = male). Check: Σ digit_i × weight_i (weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5
 * 8 4 2) mod 11 indexes "10X98765432". Legacy 15-digit numbers (before 1999: YYMMDD birth date,
 * no check character) still occur and are accepted when their date is valid.
 */

export const RESIDENT_ID_SYSTEM = 'urn:oid:2.16.156.10011.1.3';

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';

function validDate(y: number, m: number, d: number): boolean {
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** The check character for 17 digits. */
export function residentIdCheckCharacter(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i]!;
  return CHECK[sum % 11]!;
}

/** Why `value` is not a valid resident ID, or undefined when it is. */
export function residentIdProblem(value: string): string | undefined {
  const v = value.trim().toUpperCase();
  if (/^\d{15}$/.test(v)) {
    return validDate(1900 + Number(v.slice(6, 8)), Number(v.slice(8, 10)), Number(v.slice(10, 12))) ? undefined : 'its birth date (digits 7–12) is not a date';
  }
  if (!/^\d{17}[\dX]$/.test(v)) return 'it must be 18 characters (17 digits and a check digit or X) or 15 digits';
  if (!validDate(Number(v.slice(6, 10)), Number(v.slice(10, 12)), Number(v.slice(12, 14)))) return 'its birth date (digits 7–14) is not a date';
  const expected = residentIdCheckCharacter(v.slice(0, 17));
  return v[17] === expected ? undefined : `its check character is ${v[17]}, expected ${expected} (GB 11643-1999)`;
}
