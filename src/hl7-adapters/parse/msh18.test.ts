// HL7 v2.5.1 §2.15.9.18 MSH-18 Character Set, read from raw bytes before decoding; §2.5.4
// delimiters (MSH-1 at byte 3); §2.10.3 batches (MSH after FHS/BHS lines).
import fs from 'node:fs';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { findMshSegment, readMsh18 } from './msh18.ts';

const fixture = (name: string): Buffer => fs.readFileSync(new URL(`../../../tests/fixtures/hl7/${name}`, import.meta.url));

/** An MSH segment with the given MSH-4 and MSH-18, encoded in `encoding`. */
function msh(facility: string, charset: string, encoding = 'utf-8', tail = ''): Buffer {
  const line = `MSH|^~\\&|HIS|${facility}|HIP|XYZ|20240315093000||ADT^A01^ADT_A01|C1|P|2.5|||AL|NE|CHN|${charset}${tail}\rPID|1`;
  return iconv.encode(line, encoding);
}

describe('readMsh18', () => {
  it('reads the fixtures’ declared charsets', () => {
    expect(readMsh18(fixture('syn_cn_ADT_A01_utf8.hl7'), 'bytewise')).toBe('UNICODE UTF-8');
    expect(readMsh18(fixture('syn_cn_ADT_A01_gb18030.hl7'), 'lead-trail')).toBe('GB 18030-2000');
    expect(readMsh18(fixture('syn_cn_ADT_A03_gbk.hl7'), 'lead-trail')).toBe('GBK');
    expect(readMsh18(fixture('ig_test_ORU_R01.hl7'), 'bytewise')).toBe('UNICODE UTF-8');
  });

  it('returns empty when MSH-18 is empty or the segment ends before it', () => {
    expect(readMsh18(fixture('ms_ADT-A01-01.hl7'), 'bytewise')).toBe('');
    expect(readMsh18(Buffer.from('MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||||||||||||||||||GBK'), 'bytewise')).toBe('');
  });

  it('returns undefined without an MSH segment', () => {
    expect(readMsh18(Buffer.from('PID|1||x'), 'bytewise')).toBeUndefined();
    expect(readMsh18(Buffer.from('XMSH|^~\\&'), 'bytewise')).toBeUndefined();
    expect(readMsh18(Buffer.alloc(0), 'bytewise')).toBeUndefined();
  });

  it('keeps only the first repetition, trimmed', () => {
    expect(readMsh18(msh('H', ' UNICODE UTF-8 ~GB 18030-2000'), 'bytewise')).toBe('UNICODE UTF-8');
  });

  it('stops at the end of MSH-18 and at the end of the segment', () => {
    expect(readMsh18(msh('H', 'GBK', 'utf-8', '|zh^中文^ISO639'), 'bytewise')).toBe('GBK');
    expect(readMsh18(Buffer.from('MSH|^~\\&|A|B|C|D|T||ADT^A01|1|P|2.5|||||CHN|8859/1\nPID|1'), 'bytewise')).toBe('8859/1');
  });

  it('finds the MSH after batch header lines', () => {
    const bytes = Buffer.from('FHS|^~\\&|A|B\rBHS|^~\\&|A|B\rMSH|^~\\&|A|B|C|D|T||ADT^A01|1|P|2.5|||||CHN|UNICODE UTF-8\r');
    expect(findMshSegment(bytes)).toBe(26);
    expect(readMsh18(bytes, 'bytewise')).toBe('UNICODE UTF-8');
  });

  it('tolerates other delimiters and a fifth encoding character', () => {
    const bytes = Buffer.from('MSH#@$\\%!#A#B#C#D#T##ADT@A01#1#P#2.8#####CHN#UNICODE UTF-8$X#en\r');
    expect(readMsh18(bytes, 'bytewise')).toBe('UNICODE UTF-8');
  });

  it('skips GBK trail bytes equal to the field separator when scanning lead/trail', () => {
    // 珅 is 0xAB 0x7C in GBK: its trail byte is "|".
    expect([...iconv.encode('珅', 'gbk')]).toEqual([0xab, 0x7c]);
    const bytes = msh('XYZ^王珅医院', 'GBK', 'gbk');
    expect(readMsh18(bytes, 'lead-trail')).toBe('GBK');
    // Counting every 0x7C shifts the fields by one: the byte-wise reading is wrong for GBK.
    expect(readMsh18(bytes, 'bytewise')).toBe('CHN');
  });

  it('steps over GB 18030 four-byte characters', () => {
    const bytes = msh('𠀀医院', 'GB 18030-2000', 'gb18030');
    expect(iconv.encode('𠀀', 'gb18030').length).toBe(4);
    expect(readMsh18(bytes, 'lead-trail')).toBe('GB 18030-2000');
  });
});
