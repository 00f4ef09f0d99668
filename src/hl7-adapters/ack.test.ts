// HL7 v2.5.1 chapter 2: §2.9 acknowledgement modes, §2.14.1 ACK, §2.15.8 MSA, §2.15.5 ERR,
// §2.15.9 MSH (sender/receiver swapped, MSH-12 and MSH-18 echoed), Table 0357 error codes.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildAck, hl7Timestamp, newControlId } from './ack.ts';
import { decodeHl7Bytes, encodeHl7Text, hexDecoderFor } from './parse/charset.ts';
import { parseMessage } from './parse/message.ts';

const fixture = (name: string): Buffer => fs.readFileSync(new URL(`../../tests/fixtures/hl7/${name}`, import.meta.url));

function load(name: string) {
  const decoded = decodeHl7Bytes(fixture(name), { defaultCharset: 'UTF-8' });
  return { decoded, message: parseMessage(decoded.text, { decodeHex: hexDecoderFor(decoded.charset) }) };
}

const NOW = new Date('2024-03-15T01:30:00Z');

describe('buildAck', () => {
  it('swaps sender and receiver, echoes MSH-10, MSH-11, MSH-12 and MSH-18', () => {
    const { message } = load('syn_cn_ADT_A01_utf8.hl7');
    const ack = parseMessage(buildAck({ msh: message.msh, code: 'AA', controlId: 'ACK1', now: NOW }));
    expect(ack.get('MSH-3')).toBe('HIP');
    expect(ack.get('MSH-4')).toBe('XYZRMYY');
    expect(ack.get('MSH-5')).toBe('HIS');
    expect(ack.msh.field(6).raw).toBe('XYZRMYY^某市人民医院');
    expect(ack.get('MSH-7')).toBe('20240315013000+0000');
    expect(ack.msh.field(9).raw).toBe('ACK^A01^ACK');
    expect(ack.controlId).toBe('ACK1');
    expect(ack.processingId).toBe('P');
    expect(ack.version).toBe('2.5');
    expect(ack.characterSet).toBe('UNICODE UTF-8');
    expect(ack.get('MSA-1')).toBe('AA');
    expect(ack.get('MSA-2')).toBe('HISA0120240315093000001');
    expect(ack.segments('ERR')).toHaveLength(0);
    expect(ack.acceptAckType).toBe('');
  });

  it('enhanced-mode CA says the ACK itself is not to be acknowledged', () => {
    const { message } = load('syn_cn_ADT_A01_utf8.hl7');
    const ack = parseMessage(buildAck({ msh: message.msh, code: 'CA' }));
    expect(ack.get('MSA-1')).toBe('CA');
    expect(ack.acceptAckType).toBe('NE');
    expect(ack.applicationAckType).toBe('NE');
  });

  it('writes ERR-2/3/4/8 (v2.5+) with escaped Chinese text that survives GB 18030 encoding', () => {
    const { message, decoded } = load('syn_cn_ADT_A01_gb18030.hl7');
    expect(decoded.charset).toBe('gb18030');
    const text = buildAck({
      msh: message.msh,
      code: 'AR',
      error: { code: '207', reason: '患者|张三^无法处理', segment: 'PID', segmentIndex: 3, field: 3 },
    });
    const bytes = encodeHl7Text(text, decoded.charset);
    const back = decodeHl7Bytes(bytes, { defaultCharset: 'UTF-8' });
    expect(back.charset).toBe('gb18030');
    const ack = parseMessage(back.text);
    expect(ack.characterSet).toBe('GB 18030-2000');
    expect(ack.get('MSA-1')).toBe('AR');
    expect(ack.get('ERR-2.1')).toBe('PID');
    expect(ack.get('ERR-2.2')).toBe('3');
    expect(ack.get('ERR-2.3')).toBe('3');
    expect(ack.get('ERR-3.1')).toBe('207');
    expect(ack.get('ERR-3.2')).toBe('Application internal error');
    expect(ack.get('ERR-3.3')).toBe('HL70357');
    expect(ack.get('ERR-4')).toBe('E');
    expect(ack.get('ERR-8')).toBe('患者|张三^无法处理');
    expect(ack.segment('ERR')!.raw).toContain('患者\\F\\张三\\S\\无法处理');
  });

  it('uses ERR-1 and MSA-3 before v2.5', () => {
    const msh = parseMessage('MSH|^~\\&|A|B|C|D|20240101||SIU^S12|X1|P|2.3').msh;
    const ack = parseMessage(buildAck({ msh, code: 'AR', error: { code: '200', reason: 'SIU^S12 is not supported' } }));
    expect(ack.version).toBe('2.3');
    expect(ack.get('MSA-3')).toBe('SIU^S12 is not supported');
    expect(ack.get('ERR-1.4.1')).toBe('200');
    expect(ack.get('ERR-1.4.3')).toBe('HL70357');
  });

  it('keeps 5-character encoding characters and works without an original MSH', () => {
    const { message } = load('ig_test_ORU_R01.hl7');
    expect(buildAck({ msh: message.msh, code: 'AA' })).toMatch(/^MSH\|\^~\\&#\|/);
    const bare = parseMessage(buildAck({ msh: undefined, code: 'AR', error: { code: '100', reason: 'no MSH' } }));
    expect(bare.get('MSH-3')).toBe('CAREBRIDGE');
    expect(bare.get('MSA-2')).toBe('');
    expect(bare.get('ERR-3.1')).toBe('100');
  });

  it('makes short unique control ids and HL7 timestamps', () => {
    const ids = new Set(Array.from({ length: 100 }, newControlId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id.length).toBeLessThanOrEqual(20);
    expect(hl7Timestamp(new Date('2026-01-02T03:04:05Z'))).toBe('20260102030405+0000');
  });
});
