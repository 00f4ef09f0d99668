/**
 * Location paths in the usual HL7 v2 notation (as in ERR-2 / the ERL data type, HL7 v2.5.1
 * §2.A.27, and HAPI's Terser): `PID-3[2].4.2` = segment PID, field 3, repetition 2, component 4,
 * subcomponent 2. `OBX[3]-5` selects the third OBX. Every number is 1-based; omitted parts are 1.
 * The segment part is optional when the path is applied to a segment (`3[2].1`).
 */

export interface Hl7Path {
  /** Undefined for a segment-relative path. */
  segment: string | undefined;
  segmentOccurrence: number;
  field: number;
  repetition: number;
  component: number;
  subcomponent: number;
}

const PATH = /^(?:([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?-)?(\d+)(?:\[(\d+)\])?(?:\.(\d+)(?:\.(\d+))?)?$/;

const positive = (text: string | undefined, path: string): number => {
  const n = text === undefined ? 1 : Number(text);
  if (n < 1) throw new RangeError(`HL7 path ${JSON.stringify(path)}: positions start at 1`);
  return n;
};

/** Parses a path; throws RangeError for malformed paths (a programming error, not bad input). */
export function parseHl7Path(path: string): Hl7Path {
  const m = PATH.exec(path);
  if (!m) throw new RangeError(`Malformed HL7 path ${JSON.stringify(path)} (expected e.g. PID-3[2].4.2)`);
  return {
    segment: m[1],
    segmentOccurrence: positive(m[2], path),
    field: positive(m[3], path),
    repetition: positive(m[4], path),
    component: positive(m[5], path),
    subcomponent: positive(m[6], path),
  };
}
