/**
 * A field's repetitions, components and subcomponents (HL7 v2.5.1 §2.5.3 fields, §2.6.1/§2.6.2
 * encoding rules: split a field on the repetition separator, each repetition on the component
 * separator, each component on the subcomponent separator; decode escapes only in the leaves).
 *
 * All numbers are 1-based as in the standard. Absent parts read as ''. `component(n)` is the first
 * subcomponent of component n (like HAPI's Terser), so a value reads the same whether the sender
 * used a primitive or a composite type in that position. `raw` gives the encoded text.
 */
import type { Hl7Delimiters } from './delimiters.ts';
import { unescapeValue } from './escape.ts';
import type { HexDecoder } from './escape.ts';

/** What a message needs to split and decode its values. */
export interface Hl7EncodingContext {
  readonly delimiters: Hl7Delimiters;
  readonly decodeHex: HexDecoder;
}

export class Hl7Repetition {
  /** The encoded text of this repetition. */
  readonly raw: string;
  readonly #context: Hl7EncodingContext;
  /** MSH-1 and MSH-2 are taken literally: one component, no escapes. */
  readonly #literal: boolean;
  #components: string[] | undefined;

  constructor(raw: string, context: Hl7EncodingContext, literal = false) {
    this.raw = raw;
    this.#context = context;
    this.#literal = literal;
  }

  /** The encoded text of each component. */
  get components(): readonly string[] {
    if (!this.#components) {
      if (this.raw === '') this.#components = [];
      else if (this.#literal) this.#components = [this.raw];
      else this.#components = this.raw.split(this.#context.delimiters.component);
    }
    return this.#components;
  }

  get componentCount(): number {
    return this.components.length;
  }

  /** The encoded text of component n ('' when absent). */
  rawComponent(n: number): string {
    return this.components[n - 1] ?? '';
  }

  /** The encoded subcomponents of component n. */
  rawSubcomponents(n: number): string[] {
    const component = this.rawComponent(n);
    if (component === '') return [];
    if (this.#literal) return [component];
    return component.split(this.#context.delimiters.subcomponent);
  }

  /** Decoded subcomponent s of component c ('' when absent). */
  subcomponent(c: number, s: number): string {
    const leaf = this.rawSubcomponents(c)[s - 1] ?? '';
    if (this.#literal || leaf === '') return leaf;
    return unescapeValue(leaf, this.#context.delimiters, this.#context.decodeHex);
  }

  /** Decoded first subcomponent of component n. */
  component(n = 1): string {
    return this.subcomponent(n, 1);
  }

  /** Decoded component 1, subcomponent 1. */
  get value(): string {
    return this.subcomponent(1, 1);
  }

  get isEmpty(): boolean {
    return this.raw === '';
  }
}

export class Hl7Field {
  /** The encoded text of the whole field, repetitions included. */
  readonly raw: string;
  readonly #context: Hl7EncodingContext;
  readonly #literal: boolean;
  #repetitions: Hl7Repetition[] | undefined;

  constructor(raw: string, context: Hl7EncodingContext, literal = false) {
    this.raw = raw;
    this.#context = context;
    this.#literal = literal;
  }

  /** Every repetition, in order; none for an empty field. */
  get repetitions(): readonly Hl7Repetition[] {
    if (!this.#repetitions) {
      if (this.raw === '') this.#repetitions = [];
      else if (this.#literal) this.#repetitions = [new Hl7Repetition(this.raw, this.#context, true)];
      else {
        this.#repetitions = this.raw
          .split(this.#context.delimiters.repetition)
          .map((raw) => new Hl7Repetition(raw, this.#context));
      }
    }
    return this.#repetitions;
  }

  /** Repetition n (1-based); an empty repetition when absent. */
  repetition(n = 1): Hl7Repetition {
    return this.repetitions[n - 1] ?? new Hl7Repetition('', this.#context);
  }

  /** Decoded first subcomponent of component n of the first repetition. */
  component(n = 1): string {
    return this.repetition(1).component(n);
  }

  /** Decoded subcomponent s of component c of the first repetition. */
  subcomponent(c: number, s: number): string {
    return this.repetition(1).subcomponent(c, s);
  }

  /** Decoded component 1, subcomponent 1 of the first repetition. */
  get value(): string {
    return this.repetition(1).value;
  }

  get isEmpty(): boolean {
    return this.raw === '';
  }

  /** The HL7 null value `""` (the sender asks to delete the stored value). */
  get isNull(): boolean {
    return this.raw === '""';
  }
}
