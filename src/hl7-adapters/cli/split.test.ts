// HL7 v2.5.1 §2.5.2 (segments end with CR), §2.10.3 batch protocol (FHS/BHS … BTS/FTS), MLLP
// Release 1 §2 (no VT/FS inside a frame): how `carebridge hl7 send` cuts files into frames,
// byte for byte, GBK and GB 18030 included.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { splitHl7File } from './split.ts';

const fixture = (name: string): Buffer => fs.readFileSync(new URL(`../../../tests/fixtures/hl7/${name}`, import.meta.url));
const msg = (id: string) => `MSH|^~\\&|HIS|H|CB|C|20240315093000||ADT^A08^ADT_A01|${id}|P|2.5\rPID|1||${id}-PAT||DOE^JOHN\r`;
const withEndings = (text: string, ending: string) => text.replaceAll('\r', ending);
const payloads = (bytes: Uint8Array) => splitHl7File(bytes).map((f) => f.payload.toString('latin1'));

describe('splitHl7File', () => {
  it('sends a one-message file with CR terminators unchanged', () => {
    for (const name of ['syn_cn_ADT_A01_gb18030.hl7', 'syn_cn_ADT_A03_gbk.hl7', 'syn_cn_ADT_A01_utf8.hl7', 'ig_MDM_T02.hl7']) {
      const bytes = fixture(name);
      const frames = splitHl7File(bytes);
      expect(frames).toHaveLength(1);
      expect(frames[0]!.payload.equals(bytes)).toBe(true);
      expect(frames[0]!.batch).toBe(false);
      expect(frames[0]!.messages.map((m) => m.index)).toEqual([1]);
    }
  });

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('turns %s segment terminators into CR', (_name, ending) => {
    expect(payloads(Buffer.from(withEndings(msg('M1'), ending), 'latin1'))).toEqual([msg('M1')]);
  });

  it('adds the missing terminator after the last segment and drops blank lines', () => {
    const text = `\n\n${msg('M1').replace('\rPID', '\r\r  \r\nPID').slice(0, -1)}`;
    expect(payloads(Buffer.from(text, 'latin1'))).toEqual([msg('M1')]);
  });

  it('splits messages back to back before each MSH that starts a line, whatever the line endings', () => {
    const text = `${msg('M1')}${withEndings(msg('M2'), '\n')}\r\n${withEndings(msg('M3'), '\r\n')}`;
    const frames = splitHl7File(Buffer.from(text, 'latin1'));
    expect(frames.map((f) => f.payload.toString('latin1'))).toEqual([msg('M1'), msg('M2'), msg('M3')]);
    expect(frames.map((f) => f.messages.map((m) => [m.index, m.msh.toString('latin1').split('|')[9]]))).toEqual([[[1, 'M1']], [[2, 'M2']], [[3, 'M3']]]);
    expect(frames.every((f) => !f.batch)).toBe(true);
  });

  it('keeps a batch whole as one frame, counting its messages', () => {
    const lines = ['FHS|^~\\&|HIS|H', 'BHS|^~\\&|HIS|H', msg('M1').slice(0, -1), msg('M2').slice(0, -1), 'BTS|2', 'FTS|1'];
    const frames = splitHl7File(Buffer.from(lines.join('\r\n') + '\r\n', 'latin1'));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.batch).toBe(true);
    expect(frames[0]!.payload.toString('latin1')).toBe(lines.join('\r') + '\r');
    expect(frames[0]!.messages.map((m) => m.index)).toEqual([1, 2]);
  });

  it('treats a file with only a trailer (BTS) as a batch, and a batch without messages as one', () => {
    expect(splitHl7File(Buffer.from(`${msg('M1')}${msg('M2')}BTS|2\r`))).toHaveLength(1);
    const empty = splitHl7File(Buffer.from('BHS|^~\\&|HIS\rBTS|0\r'));
    expect(empty[0]!.messages).toHaveLength(1);
  });

  it('leaves GBK and GB 18030 bytes untouched, even trail bytes equal to | and M', () => {
    // 0x81 0x7C and 0x81 0x4D are GBK characters whose trail bytes are `|` and `M`: "MSH" after
    // a lead byte is inside a character, not at a line start.
    const gbk = Buffer.concat([Buffer.from('MSH|^~\\&|HIS|'), Buffer.from([0x81, 0x7c]), Buffer.from('|CB|C|20240315||ADT^A01|G1|P|2.5|||||CHN|GBK\nNTE|1||'), Buffer.from([0x81, 0x4d]), Buffer.from('SH|x\n')]);
    const frames = splitHl7File(gbk);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.payload.equals(Buffer.from(gbk.toString('latin1').replaceAll('\n', '\r'), 'latin1'))).toBe(true);

    const a01 = fixture('syn_cn_ADT_A01_gb18030.hl7');
    const a03 = fixture('syn_cn_ADT_A03_gbk.hl7');
    const crlf = (b: Buffer) => Buffer.from(b.toString('latin1').replaceAll('\r', '\r\n'), 'latin1');
    const both = splitHl7File(Buffer.concat([crlf(a01), crlf(a03)]));
    expect(both.map((f) => f.payload.equals(a01) || f.payload.equals(a03))).toEqual([true, true]);
    expect(both[1]!.payload.equals(a03)).toBe(true);
  });

  it('keeps a UTF-8 byte order mark with the first message', () => {
    const bytes = fixture('ms_ADT01-23.hl7');
    const frames = splitHl7File(Buffer.concat([bytes, Buffer.from(msg('M2'))]));
    expect(frames).toHaveLength(2);
    expect(frames[0]!.payload.equals(bytes)).toBe(true);
  });

  it('drops MLLP framing bytes from a file saved from a capture', () => {
    const capture = Buffer.concat([Buffer.from([0x0b]), Buffer.from(msg('M1')), Buffer.from([0x1c, 0x0d, 0x0b]), Buffer.from(msg('M2')), Buffer.from([0x1c, 0x0d])]);
    expect(payloads(capture)).toEqual([msg('M1'), msg('M2')]);
  });

  it('finds nothing in an empty or blank file', () => {
    expect(splitHl7File(Buffer.alloc(0))).toEqual([]);
    expect(splitHl7File(Buffer.from(' \r\n\n'))).toEqual([]);
  });
});
