// HL7 v2.5.1 §2.9 acknowledgements, §2.14.1 ACK, §2.15.8 MSA, §2.15.5 ERR (v2.5+ ERR-3/ERR-8;
// before v2.5 ERR-1 and MSA-3), §2.10.3 batches, §2.15.9.18 MSH-18: what `carebridge hl7 send`
// reads back from an acknowledgement, and MSH-10 from GBK bytes.
import fs from 'node:fs';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { buildAck } from '../ack.ts';
import { decodeHl7Bytes, encodeHl7Text, hexDecoderFor } from '../parse/charset.ts';
import { parseMessage } from '../parse/message.ts';
import { controlIdOf, readAcks } from './ack-summary.ts';

const fixture = (name: string): Buffer => fs.readFileSync(new URL(`../../../tests/fixtures/hl7/${name}`, import.meta.url));
const mshOf = (text: string) => parseMessage(text).msh;

describe('readAcks', () => {
  it('reads MSA-1 and MSA-2 of an AA', () => {
    const ack = buildAck({ msh: mshOf('MSH|^~\\&|HIS|H|CB|C|20240315||ADT^A01|X1|P|2.5\rPID|1'), code: 'AA' });
    expect(readAcks(Buffer.from(ack))).toEqual([{ code: 'AA', controlId: 'X1', reason: '', errorCode: '' }]);
  });

  it('reads the reason and Table 0357 code of an AR (v2.5: ERR-8, ERR-3)', () => {
    const msh = mshOf('MSH|^~\\&|HIS|H|CB|C|20240315||MDM^T02|X2|P|2.5\rPID|1');
    const ack = buildAck({ msh, code: 'AR', error: { code: '200', reason: 'message type MDM^T02 is not supported', segment: 'MSH', segmentIndex: 1, field: 9 } });
    expect(readAcks(Buffer.from(ack))).toEqual([{ code: 'AR', controlId: 'X2', reason: 'message type MDM^T02 is not supported', errorCode: '200' }]);
  });

  it('reads the reason of a v2.3 AR (MSA-3, ERR-1)', () => {
    const msh = mshOf('MSH|^~\\&|HIS|H|CB|C|20240315||MDM^T02|X3|P|2.3\rPID|1');
    const ack = buildAck({ msh, code: 'AR', error: { code: '200', reason: 'not supported' } });
    expect(readAcks(Buffer.from(ack))).toEqual([{ code: 'AR', controlId: 'X3', reason: 'not supported', errorCode: '200' }]);
  });

  it('decodes an ACK in the charset of its MSH-18 (GB 18030)', () => {
    const decoded = decodeHl7Bytes(fixture('syn_cn_ADT_A01_gb18030.hl7'), { defaultCharset: 'UTF-8' });
    const message = parseMessage(decoded.text, { decodeHex: hexDecoderFor(decoded.charset) });
    const ack = buildAck({ msh: message.msh, code: 'AE', error: { code: '207', reason: '患者姓名缺失' } });
    const [summary] = readAcks(encodeHl7Text(ack, decoded.charset));
    expect(summary).toEqual({ code: 'AE', controlId: 'HISA0120240315093000001', reason: '患者姓名缺失', errorCode: '207' });
  });

  it('reads every ACK of a batched answer, in order', () => {
    const ack = (id: string) => buildAck({ msh: mshOf(`MSH|^~\\&|HIS|H|CB|C|20240315||ADT^A01|${id}|P|2.5`), code: 'CA' });
    const batch = ['BHS|^~\\&|CB', ack('B1'), ack('B2'), 'BTS|2'].join('\r');
    expect(readAcks(Buffer.from(batch)).map((a) => [a.code, a.controlId])).toEqual([['CA', 'B1'], ['CA', 'B2']]);
  });

  it('reports an unreadable answer without a code', () => {
    expect(readAcks(Buffer.from('garbage'))[0]).toMatchObject({ code: '', reason: expect.stringContaining('unreadable acknowledgement') });
    expect(readAcks(Buffer.from('MSH|^~\\&|CB||||20240315||ACK|A1|P|2.5'))[0]).toMatchObject({ code: '', reason: 'the acknowledgement has no MSA segment' });
    expect(readAcks(Buffer.alloc(0))[0]!.code).toBe('');
  });
});

describe('controlIdOf', () => {
  it('reads MSH-10 from GB 18030, GBK and UTF-8 fixtures', () => {
    for (const name of ['syn_cn_ADT_A01_gb18030.hl7', 'syn_cn_ADT_A01_utf8.hl7', 'ms_ADT01-23.hl7']) {
      const line = fixture(name).subarray(0, fixture(name).indexOf(0x0d));
      expect(controlIdOf(line)).toBe(name === 'ms_ADT01-23.hl7' ? '599102' : 'HISA0120240315093000001');
    }
  });

  it('is not fooled by a GBK trail byte equal to the field separator, with or without MSH-18', () => {
    const sender = iconv.decode(Buffer.from([0x81, 0x7c]), 'gbk');
    for (const charset of ['GBK', '']) {
      const line = iconv.encode(`MSH|^~\\&|HIS|${sender}医院|CB|C|20240315||ADT^A01|G-10|P|2.5|||||CHN|${charset}`, 'gbk');
      expect(line.includes(Buffer.from([0x81, 0x7c]))).toBe(true);
      expect(controlIdOf(line)).toBe('G-10');
    }
  });

  it('gives an empty id for a line that is not a readable MSH', () => {
    expect(controlIdOf(Buffer.from('PID|1'))).toBe('');
    expect(controlIdOf(Buffer.alloc(0))).toBe('');
    expect(controlIdOf(Buffer.from('MSH'))).toBe('');
  });
});
