/**
 * One segment: its name and fields (HL7 v2.5.1 §2.5.2 segments, §2.6.2 encoding rules for
 * receiving). Fields use the standard's numbering. In the header segments MSH, FHS and BHS the
 * field separator itself is field 1 and the encoding characters are field 2 (§2.15.9.1–2), so
 * `msh.field(9)` is MSH-9 as the standard counts it; in every other segment field n is the n-th
 * value after the name. Z-segments are kept like any other.
 */
import { Hl7Field } from './field.ts';
import type { Hl7EncodingContext } from './field.ts';
import { parseHl7Path } from './path.ts';

/** Segments whose first two fields are the field separator and the encoding characters. */
export const HEADER_SEGMENTS: ReadonlySet<string> = new Set(['MSH', 'FHS', 'BHS']);

export class Hl7Segment {
  readonly name: string;
  /** The segment's encoded text, without the segment terminator. */
  readonly raw: string;
  /** 1-based position in its message (or batch file). */
  readonly index: number;
  readonly #context: Hl7EncodingContext;
  /** Encoded field values by field number; [0] is the segment name. */
  readonly #values: string[];
  readonly #fields: Array<Hl7Field | undefined> = [];

  constructor(raw: string, index: number, context: Hl7EncodingContext) {
    this.raw = raw;
    this.index = index;
    this.#context = context;
    const separator = context.delimiters.field;
    const parts = raw.split(separator);
    this.name = parts[0]!;
    this.#values = HEADER_SEGMENTS.has(this.name) ? [this.name, separator, ...parts.slice(1)] : parts;
  }

  /** The highest field number present (trailing empty fields count if their separators were sent). */
  get fieldCount(): number {
    return this.#values.length - 1;
  }

  /** Field n (1-based, standard numbering); an empty field when absent. */
  field(n: number): Hl7Field {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`HL7 field numbers start at 1, got ${n}`);
    let field = this.#fields[n];
    if (!field) {
      const literal = HEADER_SEGMENTS.has(this.name) && (n === 1 || n === 2);
      field = new Hl7Field(this.#values[n] ?? '', this.#context, literal);
      this.#fields[n] = field;
    }
    return field;
  }

  /**
   * The decoded value at a segment-relative path such as `3[2].4.2` (field 3, repetition 2,
   * component 4, subcomponent 2); '' when absent.
   */
  get(path: string): string {
    const p = parseHl7Path(path);
    if (p.segment !== undefined && p.segment !== this.name) {
      throw new RangeError(`HL7 path ${JSON.stringify(path)} names segment ${p.segment}, not ${this.name}`);
    }
    return this.field(p.field).repetition(p.repetition).subcomponent(p.component, p.subcomponent);
  }
}
