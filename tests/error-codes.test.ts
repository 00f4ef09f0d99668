// Stable error codes (STYLE.md rule 10): every code in src/fhir/errors.ts is documented in
// docs/errors.md and vice versa, codes are unique, and each is CB_ERR_ + upper snake case.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../src/fhir/errors.ts';

describe('error codes', () => {
  it('match docs/errors.md exactly', () => {
    const doc = fs.readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `(CB_ERR_[A-Z0-9_]+)` \|/gm)].map((m) => m[1]).sort();
    const defined = Object.values(ErrorCode).sort();
    expect(new Set(defined).size).toBe(defined.length);
    expect(documented).toEqual(defined);
    for (const code of defined) expect(code).toMatch(/^CB_ERR_[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
  });
});
