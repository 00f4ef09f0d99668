// HL7 v2.5.1 §2.7 escape sequences: §2.7.1 formatting (.br, .sp, …), §2.7.3 highlighting,
// §2.7.4 special characters (\F\ \S\ \T\ \R\ \E\, v2.7 \P\), §2.7.5 hexadecimal, §2.7.7 local.
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DELIMITERS } from './delimiters.ts';
import type { Hl7Delimiters } from './delimiters.ts';
import { escapeValue, unescapeValue } from './escape.ts';
import { hexDecoderFor } from './charset.ts';

const d = DEFAULT_DELIMITERS;
const withTruncation: Hl7Delimiters = { ...DEFAULT_DELIMITERS, truncation: '#' };

describe('unescapeValue', () => {
  it('leaves text without escapes alone', () => {
    expect(unescapeValue('Ann Arbor', d)).toBe('Ann Arbor');
    expect(unescapeValue('', d)).toBe('');
  });

  it('decodes the delimiter escapes', () => {
    expect(unescapeValue('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f', d)).toBe('a|b^c&d~e\\f');
    expect(unescapeValue('A\\T\\E', d)).toBe('A&E');
  });

  it('decodes \\P\\ to the truncation character when MSH-2 has one', () => {
    expect(unescapeValue('No\\P\\1', withTruncation)).toBe('No#1');
    expect(unescapeValue('No\\P\\1', d)).toBe('No\\P\\1');
  });

  it('decodes .br and .sp to line breaks and drops other formatting and highlighting', () => {
    expect(unescapeValue('line 1\\.br\\line 2', d)).toBe('line 1\nline 2');
    expect(unescapeValue('a\\.sp 2\\b\\.sp\\c', d)).toBe('a\n\nb\nc');
    expect(unescapeValue('\\.in+4\\\\.ti-2\\\\.fi\\\\.nf\\\\.ce\\\\.sk 3\\x', d)).toBe('x');
    expect(unescapeValue('\\H\\IMPORTANT\\N\\ text', d)).toBe('IMPORTANT text');
  });

  it('decodes \\X..\\ with the charset decoder', () => {
    expect(unescapeValue('\\X0D0A\\', d)).toBe('\r\n');
    expect(unescapeValue('temp 37\\XB0\\C', d)).toBe('temp 37°C');
    const gbk = iconv.encode('张三', 'gbk').toString('hex').toUpperCase();
    expect(unescapeValue(`\\X${gbk}\\`, d, hexDecoderFor('gbk'))).toBe('张三');
    const utf8 = Buffer.from('张三').toString('hex');
    expect(unescapeValue(`name: \\X${utf8}\\`, d, hexDecoderFor('utf-8'))).toBe('name: 张三');
  });

  it('keeps charset switches, local escapes, unknown and malformed sequences as sent', () => {
    for (const kept of ['\\C2842\\x', '\\M2442\\x', '\\Zlocal\\', '\\Q\\', '\\X0\\', '\\XZZ\\', '\\\\', 'C:\\dir', 'a\\.xx\\b']) {
      expect(unescapeValue(kept, d)).toBe(kept);
    }
  });

  it('uses the escape character from MSH-2', () => {
    const slash: Hl7Delimiters = { ...DEFAULT_DELIMITERS, escape: '/' };
    expect(unescapeValue('A/T/E and \\', slash)).toBe('A&E and \\');
  });
});

describe('escapeValue', () => {
  it('escapes delimiters and line breaks, and round-trips', () => {
    const text = 'a|b^c&d~e\\f\r\ng#';
    expect(escapeValue(text, d)).toBe('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\X0D\\\\X0A\\g#');
    expect(escapeValue(text, withTruncation)).toContain('g\\P\\');
    expect(unescapeValue(escapeValue(text, d), d)).toBe(text);
    expect(unescapeValue(escapeValue(text, withTruncation), withTruncation)).toBe(text);
  });

  it('leaves Chinese text untouched', () => {
    expect(escapeValue('张三 王珅', d)).toBe('张三 王珅');
  });
});
