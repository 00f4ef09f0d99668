// HL7 v2.5.1 §2.15.9.18 MSH-18 / Table 0211 (plus common non-table labels), §2.7.2 character sets,
// §2.7.5 hexadecimal escapes: choose the charset from the raw bytes, decode BEFORE splitting fields,
// fall back to the sender default, strip BOMs, encode replies in the same charset.
import fs from 'node:fs';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { lookupCharset } from './charset-names.ts';
import { decodeHl7Bytes, encodeHl7Text, hexDecoderFor, isSupportedCharset } from './charset.ts';
import { parseMessage } from './message.ts';

const fixture = (name: string): Buffer => fs.readFileSync(new URL(`../../../tests/fixtures/hl7/${name}`, import.meta.url));

const utf8Default = { defaultCharset: 'UTF-8' };

describe('lookupCharset', () => {
  it('maps Table 0211 values', () => {
    expect(lookupCharset('UNICODE UTF-8')?.encoding).toBe('utf-8');
    expect(lookupCharset('GB 18030-2000')?.encoding).toBe('gb18030');
    expect(lookupCharset('8859/1')?.encoding).toBe('iso-8859-1');
    expect(lookupCharset('8859/15')?.encoding).toBe('iso-8859-15');
    expect(lookupCharset('ASCII')?.encoding).toBe('ascii');
    expect(lookupCharset('BIG-5')?.encoding).toBe('big5');
  });
  it('maps common non-table values, ignoring case, spaces and hyphens', () => {
    for (const label of ['GBK', 'gbk', 'GB2312', 'gb 2312', 'CP936']) expect(lookupCharset(label)?.encoding).toBe('gbk');
    for (const label of ['gb18030', 'GB-18030', 'gb 18030-2000']) expect(lookupCharset(label)?.encoding).toBe('gb18030');
    for (const label of ['utf-8', 'UTF8', 'Utf_8', ' unicode utf-8 ']) expect(lookupCharset(label)?.encoding).toBe('utf-8');
  });
  it('marks the GB family (and Big5) for lead/trail scanning', () => {
    expect(lookupCharset('GBK')?.scan).toBe('lead-trail');
    expect(lookupCharset('GB 18030-2000')?.scan).toBe('lead-trail');
    expect(lookupCharset('UNICODE UTF-8')?.scan).toBe('bytewise');
  });
  it('does not know unsupported or invented names', () => {
    expect(lookupCharset('UNICODE UTF-16')).toBeUndefined();
    expect(lookupCharset('ISO IR87')).toBeUndefined();
    expect(lookupCharset('KLINGON')).toBeUndefined();
    expect(lookupCharset('')).toBeUndefined();
    expect(isSupportedCharset('gb18030')).toBe(true);
    expect(isSupportedCharset('EBCDIC')).toBe(false);
  });
});

describe('decodeHl7Bytes with the Chinese samples', () => {
  it('decodes the UTF-8 sample by MSH-18', () => {
    const d = decodeHl7Bytes(fixture('syn_cn_ADT_A01_utf8.hl7'), { defaultCharset: 'GBK' });
    expect([d.charset, d.source, d.declared, d.warnings]).toEqual(['utf-8', 'msh-18', 'UNICODE UTF-8', []]);
    const m = parseMessage(d.text);
    expect(m.get('PID-5.1')).toBe('张三');
    expect(m.get('MSH-4.2')).toBe('某市人民医院');
  });

  it('decodes the GB18030 sample by MSH-18, identical to the UTF-8 one', () => {
    const d = decodeHl7Bytes(fixture('syn_cn_ADT_A01_gb18030.hl7'), utf8Default);
    expect([d.charset, d.source, d.declared, d.warnings]).toEqual(['gb18030', 'msh-18', 'GB 18030-2000', []]);
    const utf8 = decodeHl7Bytes(fixture('syn_cn_ADT_A01_utf8.hl7'), utf8Default).text;
    expect(d.text.replace('GB 18030-2000', 'UNICODE UTF-8')).toBe(utf8);
    const m = parseMessage(d.text);
    expect(m.get('PID-5.1')).toBe('张三');
    expect(m.get('NK1-2.1')).toBe('李四');
    expect(m.get('AL1-3.2')).toBe('青霉素');
    expect(m.get('ZPV-4')).toBe('二级护理');
  });

  it('decodes the GBK sample by its non-table MSH-18 value', () => {
    const d = decodeHl7Bytes(fixture('syn_cn_ADT_A03_gbk.hl7'), utf8Default);
    expect([d.charset, d.source, d.declared, d.warnings]).toEqual(['gbk', 'msh-18', 'GBK', []]);
    const m = parseMessage(d.text);
    expect(m.messageType).toEqual({ code: 'ADT', triggerEvent: 'A03', structure: 'ADT_A03' });
    expect(m.get('PID-5.1')).toBe('张三');
    expect(m.get('PV1-36.2')).toBe('医嘱离院');
    expect(m.get('DG1-3.2')).toBe('原发性高血压');
    expect(m.get('PID-11.1')).toBe('北京市朝阳区建国路88号&3单元');
  });

  it('uses the sender default when MSH-18 is empty', () => {
    const text = decodeHl7Bytes(fixture('syn_cn_ADT_A01_utf8.hl7'), utf8Default).text.replace('UNICODE UTF-8', '');
    const d = decodeHl7Bytes(iconv.encode(text, 'gbk'), { defaultCharset: 'GBK' });
    expect([d.charset, d.source, d.declared, d.warnings]).toEqual(['gbk', 'default', '', []]);
    expect(parseMessage(d.text).get('PID-5.1')).toBe('张三');
  });

  it('uses the sender default, with a warning, when MSH-18 is unknown', () => {
    const text = decodeHl7Bytes(fixture('syn_cn_ADT_A01_utf8.hl7'), utf8Default).text.replace('UNICODE UTF-8', 'CHINESE');
    const d = decodeHl7Bytes(iconv.encode(text, 'gb18030'), { defaultCharset: 'gb18030' });
    expect([d.charset, d.source, d.declared]).toEqual(['gb18030', 'default', 'CHINESE']);
    expect(d.warnings.map((w) => w.code)).toEqual(['unknown-charset']);
    expect(parseMessage(d.text).get('PID-5.1')).toBe('张三');
  });

  it('uses the sender default when MSH-18 says UTF-8 but the bytes are GBK', () => {
    const text = decodeHl7Bytes(fixture('syn_cn_ADT_A01_utf8.hl7'), utf8Default).text;
    const d = decodeHl7Bytes(iconv.encode(text, 'gbk'), { defaultCharset: 'GBK' });
    expect([d.charset, d.source, d.declared]).toEqual(['gbk', 'default', 'UNICODE UTF-8']);
    expect(d.warnings.map((w) => w.code)).toEqual(['invalid-utf-8']);
    expect(parseMessage(d.text).get('PID-5.1')).toBe('张三');
  });

  it('warns when the default cannot decode the bytes either', () => {
    const text = decodeHl7Bytes(fixture('syn_cn_ADT_A01_utf8.hl7'), utf8Default).text.replace('UNICODE UTF-8', '');
    const d = decodeHl7Bytes(iconv.encode(text, 'gbk'), utf8Default);
    expect(d.source).toBe('default');
    expect(d.warnings.map((w) => w.code)).toEqual(['invalid-utf-8']);
  });

  it('uses the default when MSH-18 says ASCII but the bytes are not 7-bit', () => {
    const d = decodeHl7Bytes(fixture('ig_test_OML_O21.hl7'), utf8Default);
    expect([d.charset, d.source, d.declared]).toEqual(['utf-8', 'default', 'ASCII']);
    expect(d.warnings.map((w) => w.code)).toEqual(['non-ascii-in-ascii']);
    expect(d.text).toContain('workman\uFFFDs comp');
  });

  it('rejects an unsupported default (a configuration error)', () => {
    expect(() => decodeHl7Bytes(Buffer.from('MSH|^~\\&'), { defaultCharset: 'EBCDIC' })).toThrow(RangeError);
  });
});

describe('decodeHl7Bytes and byte order marks', () => {
  it('strips a UTF-8 BOM at the start of a file and decodes as UTF-8', () => {
    const bytes = fixture('ms_ADT01-23.hl7');
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const d = decodeHl7Bytes(bytes, { defaultCharset: 'GBK' });
    expect(d.text.startsWith('MSH|^~\\&|AccMgr|')).toBe(true);
    expect([d.charset, d.source, d.warnings]).toEqual(['utf-8', 'bom', []]);
  });

  it('counts a BOM plus MSH-18 UTF-8 as MSH-18', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), fixture('syn_cn_ADT_A01_utf8.hl7')]);
    const d = decodeHl7Bytes(bytes, { defaultCharset: 'GBK' });
    expect([d.charset, d.source, d.warnings]).toEqual(['utf-8', 'msh-18', []]);
    expect(parseMessage(d.text).get('PID-5.1')).toBe('张三');
  });

  it('trusts the BOM over a contradicting MSH-18, with a warning', () => {
    const utf8 = fixture('syn_cn_ADT_A01_utf8.hl7').toString('utf8').replace('UNICODE UTF-8', 'GBK');
    const d = decodeHl7Bytes(Buffer.from(`\uFEFF${utf8}`, 'utf8'), utf8Default);
    expect([d.charset, d.source]).toEqual(['utf-8', 'bom']);
    expect(d.warnings.map((w) => w.code)).toEqual(['bom-conflicts-with-msh-18']);
    expect(parseMessage(d.text).get('PID-5.1')).toBe('张三');
  });

  it('strips a GB 18030 BOM and decodes as GB 18030', () => {
    const body = fixture('syn_cn_ADT_A01_gb18030.hl7');
    const d = decodeHl7Bytes(Buffer.concat([Buffer.from([0x84, 0x31, 0x95, 0x33]), body]), utf8Default);
    expect(d.text.startsWith('MSH|')).toBe(true);
    expect([d.charset, d.source, d.warnings]).toEqual(['gb18030', 'msh-18', []]);
    const noLabel = iconv.encode(iconv.decode(body, 'gb18030').replace('GB 18030-2000', ''), 'gb18030');
    const e = decodeHl7Bytes(Buffer.concat([Buffer.from([0x84, 0x31, 0x95, 0x33]), noLabel]), utf8Default);
    expect([e.charset, e.source]).toEqual(['gb18030', 'bom']);
    expect(parseMessage(e.text).get('PID-5.1')).toBe('张三');
  });
});

/** Every CJK character whose GBK trail byte is `trail`, found with iconv-lite. */
function gbkCharactersWithTrail(trail: number): string[] {
  const found: string[] = [];
  for (let cp = 0x4e00; cp <= 0x9fa5; cp++) {
    const c = String.fromCodePoint(cp);
    const b = iconv.encode(c, 'gbk');
    if (b.length === 2 && b[1] === trail) found.push(c);
  }
  return found;
}

describe('decoding before splitting (GBK trail bytes equal to delimiters)', () => {
  const message = (name: string, facility = '某市人民医院') =>
    `MSH|^~\\&|HIS|XYZ^${facility}|HIP|XYZ|20240315093000||ADT^A01^ADT_A01|C1|P|2.5|||AL|NE|CHN|GBK\r` +
    `PID|1||ZY001^^^XYZ^MR||${name}^^^^^^L||19491231|M\r`;

  it('keeps a name whose second character has trail byte 0x7C ("|")', () => {
    const candidates = gbkCharactersWithTrail(0x7c);
    expect(candidates).toContain('珅'); // a real given-name character, 0xAB 0x7C
    const name = '王珅';
    const bytes = iconv.encode(message(name), 'gbk');

    // Wrong: split the raw bytes on "|" first, decode afterwards.
    const pid = bytes.subarray(bytes.indexOf('\rPID') + 1);
    const naiveFields = pid.subarray(0, pid.indexOf(0x0d)).toString('latin1').split('|');
    const naiveName = iconv.decode(Buffer.from(naiveFields[5]!.split('^')[0]!, 'latin1'), 'gbk');
    expect(naiveName).not.toBe(name);
    expect(naiveFields[7]).not.toBe('19491231'); // every later field shifted too

    // Right: decode by MSH-18 first, then split.
    const d = decodeHl7Bytes(bytes, utf8Default);
    expect([d.charset, d.source]).toEqual(['gbk', 'msh-18']);
    const m = parseMessage(d.text);
    expect(m.get('PID-5.1')).toBe(name);
    expect(m.get('PID-7')).toBe('19491231');
  });

  it('keeps names with trail bytes equal to ^, ~ and \\ intact', () => {
    for (const trail of [0x5e, 0x7e, 0x5c]) {
      const c = gbkCharactersWithTrail(trail)[0]!;
      const name = `张${c}`;
      const m = parseMessage(decodeHl7Bytes(iconv.encode(message(name), 'gbk'), utf8Default).text);
      expect(m.get('PID-5.1')).toBe(name);
      expect(m.get('PID-5.7')).toBe('L');
    }
  });

  it('reads MSH-18 correctly when MSH-4 holds such a character', () => {
    const bytes = iconv.encode(message('张三', '王珅医院'), 'gbk');
    const d = decodeHl7Bytes(bytes, { defaultCharset: 'UTF-8' });
    expect([d.charset, d.source, d.declared, d.warnings]).toEqual(['gbk', 'msh-18', 'GBK', []]);
    expect(parseMessage(d.text).get('MSH-4.2')).toBe('王珅医院');
  });
});

describe('encodeHl7Text and hexDecoderFor', () => {
  it('encodes a reply in the message charset, round-tripping Chinese text', () => {
    const replies: Array<[string, string]> = [['gbk', 'GBK'], ['gb18030', 'GB 18030-2000'], ['utf-8', 'UNICODE UTF-8']];
    for (const [charset, label] of replies) {
      const ack = `MSH|^~\\&|HIP|XYZ|HIS|XYZ^某市人民医院|20240315093001||ACK^A01^ACK|A1|P|2.5|||||CHN|${label}\rMSA|AA|C1|已接收 王珅\r`;
      const bytes = encodeHl7Text(ack, charset);
      expect(bytes.equals(iconv.encode(ack, charset))).toBe(true);
      expect(decodeHl7Bytes(bytes, { defaultCharset: 'ASCII' })).toMatchObject({ text: ack, charset, source: 'msh-18' });
    }
    expect(encodeHl7Text('MSH|', 'utf-8')[0]).toBe(0x4d); // no BOM
  });

  it('decodes \\X..\\ bytes in the message charset', () => {
    expect(hexDecoderFor('utf-8')(Buffer.from('E5BCA0', 'hex'))).toBe('张');
    expect(hexDecoderFor('gbk')(Buffer.from('D5C5', 'hex'))).toBe('张');
    expect(hexDecoderFor('ascii')(Buffer.from('B0', 'hex'))).toBe('°');
  });
});
