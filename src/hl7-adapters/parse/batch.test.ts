// HL7 v2.5.1 §2.10.3 batch protocol ([FHS] {[BHS] {MSH…} [BTS]} [FTS]), segments FHS/BHS/BTS/FTS
// (§2.15.2, .3, .6, .7); trailers optional; bare back-to-back messages; per-message failures.
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { parseBatch } from './batch.ts';
import type { Hl7Batch } from './batch.ts';
import { decodeHl7Bytes } from './charset.ts';

const msg = (id: string, name = 'DOE^JOHN', charset = '') =>
  `MSH|^~\\&|HIS|H|CB|C|20240315093000||ADT^A08^ADT_A01|${id}|P|2.5|||||CHN|${charset}\rPID|1||${id}-PAT||${name}`;

const ids = (batch: Hl7Batch): string[] => batch.entries.map((e) => (e.ok ? e.message.controlId : `error:${e.error.reason}`));

describe('parseBatch', () => {
  it('splits a full file: FHS, BHS, messages, BTS, FTS', () => {
    const text = ['FHS|^~\\&|HIS|H|||20240315', 'BHS|^~\\&|HIS|H|||20240315||||B1', msg('M1'), msg('M2'), 'BTS|2', 'FTS|1'].join('\r');
    const batch = parseBatch(text);
    expect(ids(batch)).toEqual(['M1', 'M2']);
    expect(batch.fileHeader?.get('3')).toBe('HIS');
    expect(batch.fileTrailer?.get('1')).toBe('1');
    expect(batch.batches).toHaveLength(1);
    expect(batch.batches[0]!.header?.field(11).value).toBe('B1');
    expect(batch.batches[0]!.trailer?.get('1')).toBe('2');
    expect(batch.warnings).toEqual([]);
    const first = batch.entries[0]!;
    expect(first.ok && first.message.segments().map((s) => s.name)).toEqual(['MSH', 'PID']);
    expect(first.text).toBe(msg('M1'));
  });

  it('splits batches without trailers', () => {
    const text = ['FHS|^~\\&|HIS', 'BHS|^~\\&|HIS', msg('M1'), msg('M2'), 'BHS|^~\\&|HIS', msg('M3')].join('\n');
    const batch = parseBatch(text);
    expect(ids(batch)).toEqual(['M1', 'M2', 'M3']);
    expect(batch.batches.map((g) => g.entries.length)).toEqual([2, 1]);
    expect(batch.batches.every((g) => g.header && !g.trailer)).toBe(true);
    expect(batch.fileTrailer).toBeUndefined();
  });

  it('reads back-to-back messages without any envelope', () => {
    const batch = parseBatch([msg('M1'), msg('M2'), msg('M3')].join('\r\n') + '\r\n');
    expect(ids(batch)).toEqual(['M1', 'M2', 'M3']);
    expect(batch.fileHeader).toBeUndefined();
    expect(batch.batches).toHaveLength(1);
    expect(batch.batches[0]!.header).toBeUndefined();
  });

  it('treats a single message as a batch of one', () => {
    const batch = parseBatch(msg('ONLY'));
    expect(ids(batch)).toEqual(['ONLY']);
  });

  it('keeps a malformed message as a failed entry and parses the others', () => {
    const broken = 'MSH|^~\\&|HIS|H|CB|C|20240315093000||ADT^A08|BAD|P\rPID|1';
    const batch = parseBatch(['BHS|^~\\&|HIS', msg('M1'), broken, msg('M3'), 'BTS|3'].join('\r'));
    expect(ids(batch)).toEqual(['M1', 'error:missing-version-id', 'M3']);
    const failed = batch.entries[1]!;
    expect(!failed.ok && failed.error.msh?.field(10).value).toBe('BAD');
    expect(failed.text).toBe(broken);
    expect(batch.warnings).toEqual([]);
  });

  it('reports segments before the first MSH as a failed entry', () => {
    const batch = parseBatch(['BHS|^~\\&|HIS', 'PID|1||orphan', msg('M1')].join('\r'));
    expect(ids(batch)).toEqual(['error:missing-msh', 'M1']);
  });

  it('warns when trailer counts do not match', () => {
    const batch = parseBatch(['FHS|^~\\&', 'BHS|^~\\&', msg('M1'), 'BTS|5', 'FTS|2'].join('\r'));
    expect(batch.warnings).toEqual(['BTS-1 says 5 messages, the batch has 1', 'FTS-1 says 2 batches, the file has 1']);
  });

  it('starts a new group for messages after a BTS', () => {
    const batch = parseBatch(['BHS|^~\\&', msg('M1'), 'BTS|1', msg('M2')].join('\r'));
    expect(batch.batches.map((g) => [g.header?.name, g.trailer?.name, g.entries.length])).toEqual([
      ['BHS', 'BTS', 1],
      [undefined, undefined, 1],
    ]);
  });

  it('reads the envelope with its own delimiters', () => {
    const batch = parseBatch(['FHS#@$\\%#APP@1.2.3#FAC', msg('M1'), 'FTS#1#done'].join('\r'));
    expect(batch.fileHeader?.get('3.2')).toBe('1.2.3');
    expect(batch.fileTrailer?.get('2')).toBe('done');
    expect(ids(batch)).toEqual(['M1']);
  });

  it('throws on a malformed batch header', () => {
    expect(() => parseBatch(['BHS|^~', msg('M1')].join('\r'))).toThrow(/BHS-2/);
  });

  it('decodes a GBK batch by the MSH-18 of its first message', () => {
    const text = ['FHS|^~\\&|HIS', 'BHS|^~\\&|HIS', msg('M1', '王珅', 'GBK'), msg('M2', '张三', 'GBK'), 'BTS|2', 'FTS|1'].join('\r');
    const decoded = decodeHl7Bytes(iconv.encode(text, 'gbk'), { defaultCharset: 'UTF-8' });
    expect([decoded.charset, decoded.source]).toEqual(['gbk', 'msh-18']);
    const names = parseBatch(decoded.text).entries.map((e) => (e.ok ? e.message.get('PID-5.1') : ''));
    expect(names).toEqual(['王珅', '张三']);
  });
});
