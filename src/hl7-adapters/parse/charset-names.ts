/**
 * Character set names as senders write them in MSH-18 → the iconv-lite encoding that decodes
 * them. HL7 v2 Table 0211 "Alternate character sets" (v2.5.1 §2.15.9.18 MSH-18 Character Set;
 * v2.8 §2.C table 0211) plus the non-table labels Chinese HIS vendors use in practice (`GBK`,
 * `GB2312`, `UTF-8`, `UTF8`, …). Matching ignores case, spaces, hyphens and underscores.
 *
 * `scan` tells how to find ASCII delimiters in the raw bytes before decoding:
 * - `bytewise`: every byte below 0x80 is the ASCII character (ASCII, ISO 8859, UTF-8, EUC-KR);
 * - `lead-trail`: a byte ≥ 0x81 starts a multi-byte character whose trail byte may be 0x40–0x7E,
 *   i.e. may equal `|`, `^`, `~` or `\` (GBK, GB 18030, Big5). Those must be decoded before
 *   anything is split.
 *
 * Not supported (no iconv-lite codec, or they cannot be read byte-wise as ASCII): UNICODE UTF-16,
 * UNICODE UTF-32, ISO IR14/IR87/IR159 (ISO 2022 JIS), CNS 11643-1992, JAS2020, JIS X 0202.
 */

export type DelimiterScan = 'bytewise' | 'lead-trail';

export interface CharsetInfo {
  /** The iconv-lite encoding name. */
  encoding: string;
  scan: DelimiterScan;
}

const UTF8: CharsetInfo = { encoding: 'utf-8', scan: 'bytewise' };
const ASCII: CharsetInfo = { encoding: 'ascii', scan: 'bytewise' };
const GB18030: CharsetInfo = { encoding: 'gb18030', scan: 'lead-trail' };
const GBK: CharsetInfo = { encoding: 'gbk', scan: 'lead-trail' };
const BIG5: CharsetInfo = { encoding: 'big5', scan: 'lead-trail' };
const EUC_KR: CharsetInfo = { encoding: 'euc-kr', scan: 'bytewise' };

const iso8859 = (part: number): CharsetInfo => ({ encoding: `iso-8859-${part}`, scan: 'bytewise' });

/** Keys are normalised labels (see normaliseCharsetLabel). */
const CHARSETS = new Map<string, CharsetInfo>([
  // Table 0211
  ['ASCII', ASCII],
  ['ISOIR6', ASCII],
  ['UNICODEUTF8', UTF8],
  ['UNICODE', UTF8], // deprecated table value; in practice senders mean UTF-8
  ['GB180302000', GB18030],
  ['BIG5', BIG5],
  ['KSX1001', EUC_KR],
  ['ISOIR100', iso8859(1)],
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 15].flatMap((n): Array<[string, CharsetInfo]> => [
    [`8859/${n}`, iso8859(n)],
    [`ISO8859${n}`, iso8859(n)],
  ]),
  // Common non-table labels
  ['UTF8', UTF8],
  ['GB18030', GB18030],
  ['GB180302005', GB18030],
  ['GB180302022', GB18030],
  ['GBK', GBK],
  ['CP936', GBK],
  ['WINDOWS936', GBK],
  ['GB2312', GBK], // GBK is a superset of GB2312 (EUC-CN)
  ['GB23121980', GBK],
  ['EUCCN', GBK],
  ['USASCII', ASCII],
  ['LATIN1', iso8859(1)],
  ['EUCKR', EUC_KR],
]);

/** Upper case without spaces, hyphens and underscores: `gb 18030-2000` → `GB180302000`. */
export function normaliseCharsetLabel(label: string): string {
  return label.toUpperCase().replace(/[\s\-_]+/g, '');
}

/** The encoding for an MSH-18 value or configured default; undefined when not recognised. */
export function lookupCharset(label: string): CharsetInfo | undefined {
  return CHARSETS.get(normaliseCharsetLabel(label));
}
