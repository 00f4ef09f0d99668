import { describe, expect, it } from 'vitest';
import { arrayParam } from './array-param.ts';

describe('arrayParam', () => {
  it('writes strings, numbers, booleans and nulls as one literal: JSON with braces', () => {
    expect(arrayParam(['a', 'b "c"', 'd\\e', null, undefined, '张三'])).toBe('{"a","b \\"c\\"","d\\\\e",null,null,"张三"}');
    expect(arrayParam([1, 2.5, -3])).toBe('{1,2.5,-3}');
    expect(arrayParam([true, false])).toBe('{true,false}');
    expect(arrayParam([])).toBe('{}');
  });

  it('tells a backslash in the data before n, t, u… from JSON escaping a control character', () => {
    // The data hold a backslash and then "n": JSON writes \\n, which array_in reads back as \ and n.
    expect(arrayParam(['line\\nbreak'])).toBe('{"line\\\\nbreak"}');
    expect(arrayParam(['\\\\u0041'])).toBe('{"\\\\\\\\u0041"}');
    // A control character or a lone surrogate: JSON writes \n, \u0001, \ud800 — left to node-postgres.
    for (const odd of [['a\nb'], ['tab\there'], ['\u0001'], ['\\\nb'], ['x', '\ud800'], ['\\\\\u0007']]) expect(arrayParam(odd)).toBe(odd);
  });

  it('leaves to node-postgres what JSON would not write as PostgreSQL reads it', () => {
    for (const odd of [[Number.NaN], [1, Infinity], [new Date(0)], [['nested']], [{ a: 1 }], [Buffer.from('x')], [10n]]) expect(arrayParam(odd)).toBe(odd);
  });
});
