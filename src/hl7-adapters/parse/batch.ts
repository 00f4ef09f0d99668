/**
 * Splits a payload into its messages: HL7 batch protocol (HL7 v2.5.1 §2.10.3 "HL7 batch
 * protocol"; segments FHS §2.15.6, BHS §2.15.2, BTS §2.15.3, FTS §2.15.7):
 *
 *     [FHS] { [BHS] { MSH … } [BTS] } [FTS]
 *
 * Headers and trailers are all optional here: trailers are often left out, and several MSH
 * messages back to back without any envelope are read the same way. A single message is a batch
 * of one. Each message is parsed on its own: one malformed message is an entry with its error and
 * the others still parse (failures stay per message). Count mismatches against BTS-1 / FTS-1 are
 * reported as warnings.
 */
import { readDelimiters } from './delimiters.ts';
import { Hl7ParseError } from './errors.ts';
import { latin1HexDecoder } from './escape.ts';
import { checkSegmentName, parseMessageLines, splitSegmentLines } from './message.ts';
import type { Hl7Message, ParseOptions } from './message.ts';
import { Hl7Segment } from './segment.ts';

export type Hl7BatchEntry =
  | { ok: true; message: Hl7Message; text: string }
  | { ok: false; error: Hl7ParseError; text: string };

export interface Hl7BatchGroup {
  header: Hl7Segment | undefined;
  trailer: Hl7Segment | undefined;
  entries: Hl7BatchEntry[];
}

export interface Hl7Batch {
  fileHeader: Hl7Segment | undefined;
  fileTrailer: Hl7Segment | undefined;
  /** Batches in order; messages outside any BHS … BTS pair form a group without header. */
  batches: Hl7BatchGroup[];
  /** Every message in order, across batches. */
  entries: Hl7BatchEntry[];
  warnings: string[];
}

/**
 * Parses a decoded payload that may be a file/batch or one or more bare messages. Throws
 * Hl7ParseError only when a file or batch header (FHS/BHS) itself is malformed.
 */
export function parseBatch(text: string, options: ParseOptions = {}): Hl7Batch {
  const lines = splitSegmentLines(text);
  const decodeHex = options.decodeHex ?? latin1HexDecoder;
  const batch: Hl7Batch = { fileHeader: undefined, fileTrailer: undefined, batches: [], entries: [], warnings: [] };
  let group: Hl7BatchGroup | undefined;
  let message: string[] | undefined;
  /** Field separator of the innermost header seen, for segments outside messages. */
  let envelopeDelimiters = readDelimiters('MSH|^~\\&');

  const openGroup = (header: Hl7Segment | undefined): Hl7BatchGroup => {
    const g: Hl7BatchGroup = { header, trailer: undefined, entries: [] };
    batch.batches.push(g);
    return g;
  };
  const flushMessage = (): void => {
    if (!message) return;
    const lines = message;
    message = undefined;
    const entryText = lines.join('\r');
    let entry: Hl7BatchEntry;
    try {
      entry = { ok: true, message: parseMessageLines(lines, options), text: entryText };
    } catch (error) {
      if (!(error instanceof Hl7ParseError)) throw error;
      entry = { ok: false, error, text: entryText };
    }
    group ??= openGroup(undefined);
    group.entries.push(entry);
    batch.entries.push(entry);
  };
  const envelopeSegment = (line: string, index: number): Hl7Segment =>
    new Hl7Segment(line, index, { delimiters: envelopeDelimiters, decodeHex });

  lines.forEach((line, i) => {
    const name = line.slice(0, 3);
    const index = i + 1;
    if (name === 'MSH') {
      flushMessage();
      message = [line];
    } else if (name === 'FHS' || name === 'BHS') {
      flushMessage();
      envelopeDelimiters = readDelimiters(line, index);
      checkSegmentName(line, index, envelopeDelimiters.field);
      const header = envelopeSegment(line, index);
      if (name === 'FHS') batch.fileHeader = header;
      else group = openGroup(header);
    } else if (name === 'BTS' || name === 'FTS') {
      flushMessage();
      checkSegmentName(line, index, envelopeDelimiters.field);
      const trailer = envelopeSegment(line, index);
      if (name === 'FTS') batch.fileTrailer = trailer;
      else {
        (group ??= openGroup(undefined)).trailer = trailer;
        group = undefined; // messages after a BTS start a new group
      }
    } else if (message) {
      message.push(line);
    } else {
      // Segments before any MSH: kept as one entry that fails with missing-msh.
      message = [line];
    }
  });
  flushMessage();
  checkCounts(batch);
  return batch;
}

function checkCounts(batch: Hl7Batch): void {
  for (const g of batch.batches) {
    const expected = g.trailer?.field(1).value;
    if (expected && Number(expected) !== g.entries.length) {
      batch.warnings.push(`BTS-1 says ${expected} messages, the batch has ${g.entries.length}`);
    }
  }
  const batchCount = batch.fileTrailer?.field(1).value;
  const headed = batch.batches.filter((g) => g.header).length;
  if (batchCount && Number(batchCount) !== headed) {
    batch.warnings.push(`FTS-1 says ${batchCount} batches, the file has ${headed}`);
  }
}
