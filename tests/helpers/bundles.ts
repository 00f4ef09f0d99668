/** Small helpers for reading search Bundles in tests. */
export type Json = Record<string, any>;

/** `Type?a=1&b=2` with every name and value percent-encoded. */
export const q = (type: string, ...pairs: Array<[string, string]>) => `${type}?${new URLSearchParams(pairs)}`;

export const sorted = (ids: string[]) => [...ids].sort();

export const entries = (bundle: Json, mode: string): Json[] => (bundle.entry ?? []).filter((e: Json) => e.search?.mode === mode);

/** Ids of the entries with search.mode "match", in Bundle order. */
export const matchIds = (bundle: Json): string[] => entries(bundle, 'match').map((e) => e.resource.id as string);

export const link = (bundle: Json, relation: string): string | undefined => (bundle.link ?? []).find((l: Json) => l.relation === relation)?.url;
