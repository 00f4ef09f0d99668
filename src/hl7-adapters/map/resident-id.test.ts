import { describe, expect, it } from 'vitest';
import { residentIdCheckCharacter, residentIdProblem } from './resident-id.ts';

describe('resident ID (GB 11643-1999)', () => {
  it('accepts valid numbers, including the X check character', () => {
    expect(residentIdProblem('11010519491231002X')).toBeUndefined();
    expect(residentIdProblem('11010519491231002x')).toBeUndefined();
    expect(residentIdCheckCharacter('11010519491231002')).toBe('X');
    // 440524188001010014 is the standard's worked example.
    expect(residentIdProblem('440524188001010014')).toBeUndefined();
  });

  it('rejects a wrong check character and says which was expected', () => {
    expect(residentIdProblem('110105194912310021')).toMatch(/check character is 1, expected X/);
  });

  it('rejects impossible birth dates and wrong lengths', () => {
    expect(residentIdProblem('110105194902301234')).toMatch(/birth date/);
    expect(residentIdProblem('1101051949123100')).toMatch(/18 characters/);
    expect(residentIdProblem('11010519491231002Y')).toMatch(/18 characters/);
  });

  it('accepts legacy 15-digit numbers with a valid date', () => {
    expect(residentIdProblem('110105491231002')).toBeUndefined();
    expect(residentIdProblem('110105491332002')).toMatch(/birth date/);
  });
});
