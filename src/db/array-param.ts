/**
 * Array query parameters as PostgreSQL array literals, built by JSON.stringify.
 *
 * node-postgres turns a JavaScript array into a literal element by element: two regular
 * expression replacements a string and one concatenation after another. For the write statement
 * of an HL7 message (about 30 KB: every resource's JSON, hundreds of index values) that was
 * ~0.1 ms of the server's CPU a message, and the long concatenated string cost as much again to
 * measure and copy when the protocol message was written. JSON.stringify makes one flat string
 * in one native pass, and for the values a write sends it is already the array literal
 * PostgreSQL reads: inside a double-quoted element array_in takes `\"` as `"` and `\\` as `\`,
 * exactly JSON's escapes; an unquoted `null` is SQL NULL, as node-postgres sends null and
 * undefined.
 *
 * JSON has other escapes: `\n`, `\t` and the like for control characters, `\uXXXX` for the rest
 * of them and for lone surrogates. array_in would read `\n` as the letter n, so an array whose
 * JSON holds any of those goes to node-postgres as it is. So do arrays of anything but strings,
 * booleans and finite numbers (JSON writes NaN and Infinity as null).
 */

/** A backslash escape other than `\"` and `\\`: an odd run of backslashes, then one of b f n r t u. */
const JSON_ONLY_ESCAPE = /(?<!\\)(?:\\\\)*\\[bfnrtu]/;

/** `values` as the text of a PostgreSQL array literal when JSON writes it as one; otherwise `values` itself. */
export function arrayParam(values: readonly unknown[]): string | readonly unknown[] {
  for (const v of values) {
    if (v === null || v === undefined || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number' && Number.isFinite(v)) continue;
    return values;
  }
  const json = JSON.stringify(values);
  if (JSON_ONLY_ESCAPE.test(json)) return values;
  return `{${json.slice(1, -1)}}`;
}
