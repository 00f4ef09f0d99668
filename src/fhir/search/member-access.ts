/**
 * Search parameter expressions with cheaper member access, for index extraction.
 *
 * Extracting a resource's index rows evaluates every search parameter of its type (index-rows.ts)
 * — about thirty FHIRPath expressions a resource, two to three hundred an HL7 message — and
 * nearly all of them are paths: `Observation.code`, `Condition.onset.ofType(Age)`,
 * `Encounter.participant.individual`. In @medplum/core's evaluator each step of a path first looks
 * its name up among the variables of every enclosing context, then builds each value's location
 * string (`Observation.code.coding[0]`) for callers that report where a value was found: about
 * half the time of evaluating a search parameter. Index rows need neither.
 *
 * So the parsed expression is copied with each member access — a SymbolAtom with a plain name —
 * replaced by one that reads the member the same way (getTypedPropertyValue: the element
 * definition's type, choice types, primitive extensions) and keeps no location. A plain name
 * never names a variable here: evalFhirPathTyped is given none, and the functions of FHIRPath
 * define only `$this`, `$index` and `$total`. Every other atom (unions, ofType, where, resolve,
 * is, …) is copied as it is, its operands converted, so it evaluates as @medplum/core does; the
 * replacement is a SymbolAtom still, for the functions that read a type name from their argument
 * (`ofType(Quantity)`, `is Patient`). member-access.test.ts compares the results with
 * @medplum/core's for every R4 search parameter of every resource in the Synthea fixtures.
 */
import { getTypedPropertyValue, isResource, SymbolAtom } from '@medplum/core';
import type { Atom, AtomContext, FhirPathAtom, TypedValue } from '@medplum/core';

/** A member name: not a variable (`%resource`, `$this`), not a quoted or special identifier. */
const PLAIN_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** A member access (or the resource type at a path's root) that keeps no location. */
class MemberAtom extends SymbolAtom {
  override eval(_context: AtomContext, input: TypedValue[]): TypedValue[] {
    const out: TypedValue[] = [];
    for (const element of input) {
      const value = element.value as unknown;
      if (!value || typeof value !== 'object') continue;
      // `Observation` at the root of `Observation.code` selects the resource itself.
      if (isResource(value, this.name as never)) {
        out.push(element);
        continue;
      }
      const member = getTypedPropertyValue(element, this.name);
      if (Array.isArray(member)) {
        for (const m of member) if (m?.value !== undefined) out.push(m);
      } else if (member?.value !== undefined) {
        out.push(member);
      }
    }
    return out;
  }
}

function isAtom(value: unknown): value is Atom {
  return typeof (value as { eval?: unknown } | null)?.eval === 'function';
}

function convert(atom: Atom): Atom {
  if (atom.constructor === SymbolAtom) {
    const name = (atom as SymbolAtom).name;
    return PLAIN_NAME.test(name) ? new MemberAtom(name) : atom;
  }
  // Same class, same fields; operands (left, right, child, args…) converted.
  const copy = Object.create(Object.getPrototypeOf(atom) as object) as Record<string, unknown>;
  for (const [key, value] of Object.entries(atom)) {
    if (isAtom(value)) copy[key] = convert(value);
    else if (Array.isArray(value) && value.length > 0 && value.every(isAtom)) copy[key] = value.map(convert);
    else copy[key] = value;
  }
  return copy as unknown as Atom;
}

const converted = new WeakMap<FhirPathAtom, FhirPathAtom>();

/** `atom` with its member accesses made cheaper; evaluates to the same values and types (without locations). */
export function withMemberAccess(atom: FhirPathAtom): FhirPathAtom {
  let fast = converted.get(atom);
  if (!fast) {
    fast = convert(atom) as FhirPathAtom; // a copy of the FhirPathAtom
    converted.set(atom, fast);
  }
  return fast;
}
