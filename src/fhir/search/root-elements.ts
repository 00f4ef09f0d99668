/**
 * Which top-level elements of a resource a search parameter's FHIRPath expression reads, so index
 * extraction can skip the expressions that cannot select anything from a given resource. Most of
 * a type's parameters name elements an instance does not have (an Observation has ~40 parameters
 * and a home reading fills a dozen of them); evaluating FHIRPath to learn that was the larger part
 * of extraction's time.
 *
 * Only expressions that navigate from the resource are understood — `Type.a.b`, unions of those,
 * `.where(…)`, `.ofType(…)`, `as`, indexers — whose result is empty whenever their first element
 * is absent. Anything else (a bare `Type`, a function or an operator at the root, `is`, `exists()`)
 * gives `undefined`: always evaluated.
 */
import { AsAtom, DotAtom, FhirPathAtom, IndexerAtom, SymbolAtom, UnionAtom } from '@medplum/core';
import type { Atom } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/** The top-level element names `atom` starts from on a `resourceType`, or undefined when it does more than navigate. */
export function rootElements(atom: Atom, resourceType: string): string[] | undefined {
  if (atom instanceof FhirPathAtom) return rootElements(atom.child, resourceType);
  if (atom instanceof UnionAtom) {
    const left = rootElements(atom.left, resourceType);
    const right = left && rootElements(atom.right, resourceType);
    return right && [...left!, ...right];
  }
  if (atom instanceof DotAtom) {
    const left = atom.left;
    if (left instanceof SymbolAtom && left.name === resourceType) {
      // `Type.element`; `Type.extension('…')` and other functions on the resource are not navigation.
      return atom.right instanceof SymbolAtom ? [atom.right.name] : undefined;
    }
    // `x.where(…)`, `x.ofType(T)`, `x.y`: empty when x is.
    return rootElements(left, resourceType);
  }
  // `x as T`, `x[n]`: empty when x is.
  if (atom instanceof AsAtom || atom instanceof IndexerAtom) return rootElements(atom.left, resourceType);
  return undefined;
}

/**
 * The names under which a resource's JSON can hold each of its top-level elements: the key itself,
 * `_key` (a primitive's extensions) and, for choice elements (`valueQuantity`, `effectiveDateTime`),
 * the name before the type. Over-inclusive on purpose (`basedOn` also gives `based`): a name too
 * many only means an expression is evaluated.
 */
export function presentElements(resource: Resource): Set<string> {
  const present = new Set<string>();
  for (const key of Object.keys(resource)) {
    const name = key.startsWith('_') ? key.slice(1) : key;
    present.add(name);
    const typeAt = name.search(/[A-Z]/);
    if (typeAt > 0) present.add(name.slice(0, typeAt));
  }
  return present;
}
