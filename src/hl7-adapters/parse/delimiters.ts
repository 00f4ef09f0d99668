/**
 * Message delimiters from a header segment's first two fields (HL7 v2.5.1 §2.5.4 "Message
 * delimiters", §2.15.9.1 MSH-1 Field Separator, §2.15.9.2 MSH-2 Encoding Characters; FHS and BHS
 * carry the same two fields, §2.15.6 / §2.15.2). MSH-2 lists, in order, the component,
 * repetition, escape and subcomponent separators; v2.7 added a fifth, the truncation character
 * (`^~\&#`).
 */
import { Hl7ParseError } from './errors.ts';

export interface Hl7Delimiters {
  readonly field: string;
  readonly component: string;
  readonly repetition: string;
  readonly escape: string;
  readonly subcomponent: string;
  /** '' when MSH-2 has four characters. */
  readonly truncation: string;
}

export const DEFAULT_DELIMITERS: Hl7Delimiters = {
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
  truncation: '',
};

/** Printable ASCII that is not a letter, digit or space. */
function isDelimiterCharacter(c: string | undefined): c is string {
  return c !== undefined && /^[\x21-\x7e]$/.test(c) && !/^[A-Za-z0-9]$/.test(c);
}

/** Reads MSH-1/MSH-2 (or FHS-1/2, BHS-1/2) from a header segment line. */
export function readDelimiters(line: string, segmentIndex = 1): Hl7Delimiters {
  const segment = line.slice(0, 3);
  const field = line[3];
  if (!isDelimiterCharacter(field)) {
    throw new Hl7ParseError(
      'bad-field-separator',
      `field separator ${field === undefined ? 'missing' : JSON.stringify(field)} is not a printable non-alphanumeric character`,
      { segment, segmentIndex, field: 1 },
    );
  }
  const end = line.indexOf(field, 4);
  const chars = [...line.slice(4, end < 0 ? line.length : end)];
  const bad = (why: string): Hl7ParseError =>
    new Hl7ParseError('bad-encoding-characters', `encoding characters ${JSON.stringify(chars.join(''))} ${why}`, {
      segment,
      segmentIndex,
      field: 2,
    });
  if (chars.length < 4 || chars.length > 5) throw bad('must be 4 or 5 characters');
  if (!chars.every(isDelimiterCharacter)) throw bad('must be printable non-alphanumeric characters');
  if (new Set([field, ...chars]).size !== chars.length + 1) throw bad('must differ from each other and from the field separator');
  const [component, repetition, escape, subcomponent, truncation = ''] = chars as [string, string, string, string, string?];
  return { field, component, repetition, escape, subcomponent, truncation };
}
