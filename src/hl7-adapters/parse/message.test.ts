// HL7 v2.x chapter 2 (v2.5.1 numbering): §2.5 message framework (segments, fields, delimiters),
// §2.6.2 encoding rules for receiving (repetitions, components, subcomponents, absent = empty),
// §2.7 escapes, §2.15.9 MSH (MSH-1 is the field separator, MSH-2 the encoding characters).
// Field-level checks against v2.3, v2.5, v2.5.1 and v2.8 samples, and the parse errors.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeHl7Bytes, hexDecoderFor } from './charset.ts';
import { Hl7ParseError } from './errors.ts';
import { Hl7Message, parseMessage } from './message.ts';

/** Decodes a fixture as the listener will: charset first (default UTF-8), then parse. */
function load(name: string): Hl7Message {
  const bytes = fs.readFileSync(new URL(`../../../tests/fixtures/hl7/${name}`, import.meta.url));
  const decoded = decodeHl7Bytes(bytes, { defaultCharset: 'UTF-8' });
  return parseMessage(decoded.text, { decodeHex: hexDecoderFor(decoded.charset) });
}

function parseError(text: string): Hl7ParseError {
  try {
    parseMessage(text);
  } catch (error) {
    if (error instanceof Hl7ParseError) return error;
    throw error;
  }
  throw new Error('expected an Hl7ParseError');
}

describe('v2.3: ms_ADT01-23 (UTF-8 BOM, trailing spaces)', () => {
  const m = load('ms_ADT01-23.hl7');
  it('reads the header', () => {
    expect(m.messageType).toEqual({ code: 'ADT', triggerEvent: 'A01', structure: '' });
    expect(m.get('MSH-9')).toBe('ADT');
    expect(m.controlId).toBe('599102');
    expect(m.version).toBe('2.3');
    expect(m.get('MSH-7')).toBe('20050110045504+0700');
    expect(m.get('MSH-3')).toBe('AccMgr');
  });
  it('reads patient fields', () => {
    expect(m.get('PID-3')).toBe('10006579');
    expect(m.get('PID-3.4')).toBe('1');
    expect(m.get('PID-3.5')).toBe('MR');
    expect([m.get('PID-5.1'), m.get('PID-5.2'), m.get('PID-5.3')]).toEqual(['DUCK', 'DONALD', 'D']);
    expect(m.get('PID-7')).toBe('19241010');
    expect(m.get('PID-11.3')).toBe('FOWL');
  });
  it('keeps every segment, repeated ones in order', () => {
    expect(m.segments().map((s) => s.name)).toEqual(['MSH', 'EVN', 'PID', 'NK1', 'PV1', 'GT1', 'DG1', 'IN1', 'IN2', 'IN1', 'IN2', 'IN1']);
    expect(m.segments('IN1').map((s) => s.field(4).value)).toEqual(['MEDICARE', 'MEDICAL MUTUAL CALIF.', 'SELF PAY']);
    expect(m.get('IN1[2]-5.3')).toBe('HOLLYWOOD');
    expect(m.get('IN1[3]-4')).toBe('SELF PAY');
  });
});

describe('v2.5.1: ig_test_ORU_R01 (MSH-2 with truncation character)', () => {
  const m = load('ig_test_ORU_R01.hl7');
  it('reads the five encoding characters', () => {
    expect(m.delimiters).toEqual({ field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&', truncation: '#' });
    expect(m.get('MSH-1')).toBe('|');
    expect(m.get('MSH-2')).toBe('^~\\&#');
    expect(m.msh.field(2).repetitions.length).toBe(1);
  });
  it('reads the header by standard field numbers', () => {
    expect(m.get('MSH-3')).toBe('LabApp');
    expect(m.get('MSH-3.2')).toBe('9.8.7.6.5');
    expect(m.get('MSH-9.3')).toBe('ORU_R01');
    expect(m.controlId).toBe('20251014154001-425');
    expect(m.version).toBe('2.5.1');
    expect(m.acceptAckType).toBe('AL');
    expect(m.applicationAckType).toBe('AL');
    expect(m.characterSet).toBe('UNICODE UTF-8');
    expect(m.get('MSH-19.1')).toBe('en-US');
  });
  it('reads PID-3 subcomponents and PID-5 repetitions', () => {
    expect(m.get('PID-3.1')).toBe('1032702');
    expect(m.get('PID-3.4.1')).toBe('OrdOrg');
    expect(m.get('PID-3.4.2')).toBe('3.4.5.6.7');
    expect(m.get('PID-3.4.3')).toBe('ISO');
    const names = m.segment('PID')!.field(5).repetitions;
    expect(names.map((r) => [r.component(1), r.component(2), r.component(7)])).toEqual([
      ['Everywoman', 'Eve', 'L'],
      ['Original', 'Eve', 'M'],
    ]);
    expect(m.get('PID-5[2].10.1')).toBe('19700601');
    expect(m.get('PID-5[2].10.2')).toBe('20000908');
    expect(m.get('PID-10[2].2')).toBe('White');
  });
  it('reads OBX values', () => {
    const obx = m.segments('OBX');
    expect(obx.map((s) => [s.get('2'), s.get('3.1'), s.get('5'), s.get('6'), s.get('7'), s.get('8.2'), s.get('11')])).toEqual([
      ['NM', '6153-1', '3.9', 'kU/L', '<0.10', 'Abnormal', 'F'],
      ['NM', '6041-8', '0.59', 'kU/L', '<0.10', 'Abnormal', 'F'],
      ['SN', '6265-3', '<0.10', 'kU/L', '<0.10', 'Normal', 'F'],
    ]);
    expect(m.get('OBX[3]-3.2')).toBe('IgE Timothy Grass');
    expect(m.get('OBX[2]-16.9.2')).toBe('8.7.6.5.4');
  });
});

describe('v2.5.1: ig_MDM_T02 (formatted text)', () => {
  const m = load('ig_MDM_T02.hl7');
  it('decodes \\.br\\ to line breaks in OBX-5', () => {
    const text = m.get('OBX[2]-5');
    expect(text.startsWith('Critical Values Entered On:  08/22/2023 2:11 EDT \n Performed On:')).toBe(true);
    expect(text).not.toContain('\\.br\\');
    expect(m.segment('OBX', 2)!.field(5).raw).toContain('\\.br\\');
  });
  it('reads a component that starts with a subcomponent separator', () => {
    expect(m.get('OBX[3]-3.1.1')).toBe('');
    expect(m.get('OBX[3]-3.1.2')).toBe('GDT');
    expect(m.get('OBX[3]-3.2')).toBe('Critical Values-String');
  });
});

describe('v2.5.1: ig_test_OML_O21 (\\R\\ escape)', () => {
  it('decodes a repetition-separator escape inside a value', () => {
    expect(load('ig_test_OML_O21.hl7').get('SPM-14')).toBe('This is a wonderful blood sample.~My first blood draw!');
  });
});

describe('v2.8: ms_ADT-A01-01 and ms_RDE-O11-01', () => {
  const m = load('ms_ADT-A01-01.hl7');
  it('reads the header', () => {
    expect(m.messageType).toEqual({ code: 'ADT', triggerEvent: 'A01', structure: 'ADT_A01' });
    expect(m.controlId).toBe('MSG00001');
    expect(m.version).toBe('2.8');
    expect(m.get('MSH-8')).toBe('SECURITY');
    expect(m.get('MSH-4.2')).toBe('2.16.840.1.122848.1.30');
  });
  it('reads PID-3 repetitions and PID-5 names with subcomponents', () => {
    const ids = m.segment('PID')!.field(3).repetitions;
    expect(ids.map((r) => [r.component(1), r.component(4), r.component(5)])).toEqual([
      ['PATID1234', 'test1', 'MR'],
      ['123456789', 'USSSA', 'SS'],
    ]);
    expect(m.get('PID-3[1].4.2')).toBe('2.16.1');
    expect(m.get('PID-3[2].1')).toBe('123456789');
    expect(m.get('PID-5.1')).toBe('EVERYMAN');
    expect(m.get('PID-5.1.5')).toBe('Aniston');
    expect(m.get('PID-5[2].1.1')).toBe('Josh');
    expect(m.get('PID-5[2].7')).toBe('L');
  });
  it('decodes \\T\\', () => {
    expect(m.get('PV1-14')).toBe('NHS Provider-General (inc.A&E-this Hosp)');
  });
  it('reads OBX repetitions', () => {
    expect(m.segment('OBX')!.field(5).repetitions.map((r) => r.value)).toEqual(['60', '120']);
  });
  it('reads an RDE^O11', () => {
    const rde = load('ms_RDE-O11-01.hl7');
    expect(rde.messageType).toEqual({ code: 'RDE', triggerEvent: 'O11', structure: 'RDE_O11' });
    expect(rde.version).toBe('2.8');
    expect(rde.get('RXE-2.1')).toBe('0143963401');
    expect(rde.get('RXE-3')).toBe('5');
    expect(rde.get('RXE-5.2')).toBe('mg/hr');
    expect(rde.get('RXE-7[2]')).toMatch(/^Starting dose is 5 mg\/hr\. Titrate by 2\.5 mg\/hr increments/);
  });
});

describe('v2.5: Chinese samples', () => {
  for (const file of ['syn_cn_ADT_A01_utf8.hl7', 'syn_cn_ADT_A01_gb18030.hl7']) {
    it(`reads ${file}`, () => {
      const m = load(file);
      expect(m.messageType).toEqual({ code: 'ADT', triggerEvent: 'A01', structure: 'ADT_A01' });
      expect(m.controlId).toBe('HISA0120240315093000001');
      expect(m.version).toBe('2.5');
      const pid3 = m.segment('PID')!.field(3).repetitions;
      expect(pid3.map((r) => [r.component(1), r.subcomponent(4, 2), r.component(5)])).toEqual([
        ['ZY2024001234', '2.16.156.10011.1.12', 'MR'],
        ['11010519491231002X', '2.16.156.10011.1.3', 'NNCHN'],
        ['0012345678', '', 'HC'],
      ]);
      expect(m.get('PID-3[3].4')).toBe('YB');
      expect([m.get('PID-5.1'), m.get('PID-5.7')]).toEqual(['张三', 'L']);
      expect([m.get('PID-5[2].1'), m.get('PID-5[2].2'), m.get('PID-5[2].7')]).toEqual(['ZHANG', 'SAN', 'A']);
      expect(m.get('PID-11')).toBe('北京市朝阳区建国路88号&3单元');
      expect(m.get('PID-22.2')).toBe('汉族');
      expect(m.get('PV1-3.9')).toBe('心内科病区');
      expect(m.segment('AL1')!.field(5).repetitions.map((r) => r.value)).toEqual(['皮疹', '呼吸困难']);
      expect(m.get('DG1-3.1')).toBe('I10.x00');
    });
  }
  it('keeps the Z-segment', () => {
    const z = load('syn_cn_ADT_A01_utf8.hl7').segment('ZPV')!;
    expect([z.name, z.get('2.1'), z.get('2.2'), z.get('3'), z.get('4')]).toEqual(['ZPV', '310', '城镇职工基本医疗保险', 'Y', '二级护理']);
  });
  it('reads the RDE^O11 timing subcomponents', () => {
    const m = load('syn_cn_RDE_O11_utf8.hl7');
    expect(m.get('RXE-1.2.1')).toBe('BID');
    expect(m.get('RXE-1.2.2')).toBe('0800,2000');
    expect(m.get('RXE-2.2')).toBe('阿莫西林胶囊');
    expect(m.get('RXR-1.2')).toBe('口服');
  });
});

describe('structure and accessors', () => {
  const text = 'MSH|^~\\&|A|B|C|D|20240101||ADT^A08|42|P|2.4\rPID|1||X~Y||""|\rZZ1';
  it('accepts CR, LF and CRLF segment terminators and ignores blank lines', () => {
    for (const eol of ['\r', '\n', '\r\n']) {
      const m = parseMessage(text.replaceAll('\r', eol) + eol + eol);
      expect(m.segments().map((s) => s.name)).toEqual(['MSH', 'PID', 'ZZ1']);
      expect(m.get('PID-3[2]')).toBe('Y');
    }
  });
  it('returns empty strings for absent parts', () => {
    const m = parseMessage(text);
    expect(m.get('PID-3[3]')).toBe('');
    expect(m.get('PID-99')).toBe('');
    expect(m.get('PID-3.9.9')).toBe('');
    expect(m.get('OBX-5')).toBe('');
    expect(m.get('PID[2]-1')).toBe('');
    expect(m.segment('OBX')).toBeUndefined();
    expect(m.segments('OBX')).toEqual([]);
    const pid = m.segment('PID')!;
    expect(pid.field(40).component(3)).toBe('');
    expect(pid.field(40).repetitions).toEqual([]);
    expect(pid.field(3).repetition(5).component(1)).toBe('');
    expect(m.segment('ZZ1')!.fieldCount).toBe(0);
  });
  it('counts fields and tells empty from the null value ""', () => {
    const pid = parseMessage(text).segment('PID')!;
    expect(pid.fieldCount).toBe(6);
    expect(pid.field(5).isNull).toBe(true);
    expect(pid.field(5).value).toBe('""');
    expect(pid.field(4).isEmpty).toBe(true);
    expect(pid.field(3).raw).toBe('X~Y');
  });
  it('reads MSH-1 and MSH-2 literally and numbers MSH fields as the standard does', () => {
    const m = parseMessage(text);
    expect(m.msh.field(1).value).toBe('|');
    expect(m.msh.field(2).value).toBe('^~\\&');
    expect(m.msh.field(2).component(2)).toBe('');
    expect(m.msh.field(9).raw).toBe('ADT^A08');
    expect(m.get('MSH-10')).toBe('42');
  });
  it('honours other delimiters', () => {
    const m = parseMessage('MSH#@$/%#A#B#C#D#T##ADT@A01#7#P#2.5\rPID#1##ID1@@@AUTH%1.2@MR$ID2##Li@Lei\rNTE#1##a/F/b/S/c');
    expect(m.delimiters).toMatchObject({ field: '#', component: '@', repetition: '$', escape: '/', subcomponent: '%' });
    expect(m.get('PID-3.4.2')).toBe('1.2');
    expect(m.get('PID-3[2]')).toBe('ID2');
    expect(m.get('PID-5.2')).toBe('Lei');
    expect(m.get('NTE-3')).toBe('a#b@c');
  });
  it('re-joins the message with CR', () => {
    expect(parseMessage(text.replaceAll('\r', '\n')).toString()).toBe(text);
  });
  it('rejects malformed paths', () => {
    const m = parseMessage(text);
    for (const bad of ['PID', 'pid-3', 'PID-0', 'PID-3[0]', 'PID-3..1', '3']) expect(() => m.get(bad)).toThrow(RangeError);
    expect(() => m.segment('PID')!.get('MSH-3')).toThrow(RangeError);
    expect(() => m.segment('PID')!.field(0)).toThrow(RangeError);
    expect(m.segment('PID')!.get('PID-3[2]')).toBe('Y');
  });
});

describe('Hl7ParseError', () => {
  it('reports an empty message', () => {
    const e = parseError('\r\n\r');
    expect([e.reason, e.hl7ErrorCode]).toEqual(['empty', '100']);
  });
  it('reports a message that does not start with MSH', () => {
    const e = parseError('PID|1||X\rMSH|^~\\&|A');
    expect([e.reason, e.position, e.hl7ErrorCode]).toEqual(['missing-msh', { segment: 'PID', segmentIndex: 1 }, '100']);
    expect(parseError('garbage').reason).toBe('missing-msh');
  });
  it('reports a bad field separator', () => {
    for (const text of ['MSH', 'MSHA^~\\&A', 'MSH ^~\\& ']) {
      const e = parseError(text);
      expect([e.reason, e.location, e.hl7ErrorCode]).toEqual(['bad-field-separator', 'MSH-1', '102']);
    }
  });
  it('reports bad encoding characters', () => {
    for (const msh2 of ['', '^~&', '^~\\&#!', '^^\\&', '^~\\|', 'ABCD', '^~ &']) {
      const e = parseError(`MSH|${msh2}|A|B|C|D|T||ADT^A01|1|P|2.5`);
      expect([e.reason, e.location, e.hl7ErrorCode]).toEqual(['bad-encoding-characters', 'MSH-2', '102']);
    }
  });
  it('reports missing MSH-9, MSH-10 and MSH-12, keeping the MSH for the AR', () => {
    const noType = parseError('MSH|^~\\&|A|B|C|D|T|||1|P|2.5');
    expect([noType.reason, noType.location, noType.hl7ErrorCode]).toEqual(['missing-message-type', 'MSH-9', '101']);
    expect(noType.msh?.field(10).value).toBe('1');
    expect(parseError('MSH|^~\\&|A|B|C|D|T||^A01|1|P|2.5').reason).toBe('missing-message-type');
    const noId = parseError('MSH|^~\\&|A|B|C|D|T||ADT^A01||P|2.5');
    expect([noId.reason, noId.location]).toEqual(['missing-control-id', 'MSH-10']);
    const noVersion = parseError('MSH|^~\\&|A|B|C|D|T||ADT^A01|1|P');
    expect([noVersion.reason, noVersion.location, noVersion.msh?.field(3).value]).toEqual(['missing-version-id', 'MSH-12', 'A']);
  });
  it('reports a bad segment name with its position', () => {
    const e = parseError('MSH|^~\\&|A|B|C|D|T||ADT^A01|1|P|2.5\rPID|1\rpv1|1');
    expect([e.reason, e.position]).toEqual(['bad-segment-name', { segment: '', segmentIndex: 3 }]);
    expect(parseError('MSH|^~\\&|A|B|C|D|T||ADT^A01|1|P|2.5\rPIDX|1').reason).toBe('bad-segment-name');
    expect(parseError('MSH|^~\\&|A|B|C|D|T||ADT^A01|1|P|2.5\rPI').reason).toBe('bad-segment-name');
  });
  it('refuses a second message or batch segment inside a message', () => {
    const e = parseError('MSH|^~\\&|A|B|C|D|T||ADT^A01|1|P|2.5\rMSH|^~\\&|A|B|C|D|T||ADT^A01|2|P|2.5');
    expect([e.reason, e.position, e.msh?.field(10).value]).toEqual(['unexpected-segment', { segment: 'MSH', segmentIndex: 2 }, '1']);
  });
  it('is an Error with a readable message', () => {
    const e = parseError('MSH|^~\\&|A|B|C|D|T||ADT^A01||P|2.5');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('Hl7ParseError');
    expect(e.message).toBe('MSH-10: message control id is empty');
  });
});
