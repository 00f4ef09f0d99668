/**
 * The searches the benchmark measures. Each query draws its parameter values from the manifest
 * (sample patients, the heavy patients, codes and thresholds whose exact match counts the
 * generator kept) with its own seeded PRNG, so every request differs but every run sends the same
 * sequence. `check` looks at one answer and lists what is wrong with it: wrong match counts
 * (computed from the generator's counts), matches that do not satisfy the filter, wrong order,
 * missing _include/_revinclude results, wrong totals.
 */
import { prng } from '../lib/payloads.ts';
import type { Manifest, SamplePatient } from './loader.ts';
import { NAME_QUERIES, OBSERVATIONS, SYSTEMS, VALUE_QUERIES } from './vocab.ts';

export interface QueryInstance {
  /** Path and query string below the FHIR base, e.g. `Patient?identifier=…`. */
  path: string;
  /** Problems with the answer; empty when it looks right. */
  check(bundle: SearchBundle): string[];
}

export interface QueryDef {
  id: string;
  title: string;
  /** A selective query: a Seq Scan on a large table in its plan is flagged. */
  selective: boolean;
  /** p95 target at 1 client, ms (every query also has the general 200 ms one). */
  p95TargetMs?: number;
  /** A `_total=accurate` count: target < 1 s. */
  totalCount?: boolean;
  /** What varies between requests. */
  varies: string;
  make(manifest: Manifest): () => QueryInstance;
}

interface Entry {
  resource?: any;
  search?: { mode?: string };
}
export interface SearchBundle {
  resourceType?: string;
  total?: number;
  entry?: Entry[];
  link?: Array<{ relation: string; url: string }>;
}

const DEFAULT_COUNT = 20;
const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
const normalize = (s: string) => s.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
const enc = (params: Array<[string, string]>) => params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
const matches = (b: SearchBundle) => (b.entry ?? []).filter((e) => (e.search?.mode ?? 'match') === 'match').map((e) => e.resource);
const included = (b: SearchBundle) => (b.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => e.resource);
const ms = (dateTime: string | undefined) => (dateTime ? Date.parse(dateTime) : Number.NaN);

function expectCount(problems: string[], got: number, expected: number, what = 'matches'): void {
  if (got !== expected) problems.push(`${got} ${what}, expected ${expected}`);
}

/** Month starts (YYYY-MM-01) from..to inclusive. */
function months(fromYear: number, fromMonth: number, toYear: number, toMonth: number): string[] {
  const out: string[] = [];
  for (let y = fromYear, m = fromMonth; y < toYear || (y === toYear && m <= toMonth); m === 12 ? ((m = 1), y++) : m++) out.push(`${y}-${String(m).padStart(2, '0')}-01`);
  return out;
}

function identifierOf(p: SamplePatient, rand: () => number): [system: string, value: string] {
  return rand() < 0.5 ? [SYSTEMS.mrn, p.mrn] : [SYSTEMS.residentId, p.residentId];
}

const LOINC_CODES = Object.values(OBSERVATIONS).map((o) => o.code);

export const QUERIES: readonly QueryDef[] = [
  {
    id: '1',
    title: 'Patient?identifier=system|value',
    selective: true,
    p95TargetMs: 20,
    varies: 'sample patient; MRN or resident ID',
    make: (m) => {
      const rand = prng(101);
      return () => {
        const p = pick(rand, m.samples);
        const [system, value] = identifierOf(p, rand);
        return {
          path: `Patient?${enc([['identifier', `${system}|${value}`]])}`,
          check: (b) => {
            const found = matches(b);
            const problems: string[] = [];
            expectCount(problems, found.length, 1);
            if (found.length === 1 && found[0]?.id !== p.id) problems.push(`found Patient/${found[0]?.id}, expected Patient/${p.id}`);
            return problems;
          },
        };
      };
    },
  },
  {
    id: '2a',
    title: 'Patient?name=prefix (Han and pinyin)',
    selective: false,
    varies: `one of ${NAME_QUERIES.join(' ')}`,
    make: (m) => {
      const rand = prng(102);
      return () => {
        const q = pick(rand, NAME_QUERIES);
        const expected = m.stats.patientsMatchingName[q] ?? 0;
        return {
          path: `Patient?${enc([['name', q]])}`,
          check: (b) => {
            const found = matches(b);
            const problems: string[] = [];
            expectCount(problems, found.length, Math.min(DEFAULT_COUNT, expected), `matches for name=${q}`);
            const nq = normalize(q);
            const bad = found.filter((r) => !(r?.name ?? []).some((n: any) => [n.text, n.family, ...(n.given ?? []), `${n.family}${(n.given ?? []).join('')}`].some((s) => typeof s === 'string' && normalize(s).startsWith(nq))));
            if (bad.length) problems.push(`${bad.length} matches without a name starting with "${q}"`);
            return problems;
          },
        };
      };
    },
  },
  {
    id: '2b',
    title: 'Patient?birthdate=ge…&gender=…',
    selective: false,
    varies: 'birth year 1935–2005, gender',
    make: (m) => {
      const rand = prng(103);
      return () => {
        const year = 1935 + Math.floor(rand() * 71);
        const gender = rand() < 0.5 ? 'male' : 'female';
        const byYear = m.stats.patientsByGenderYear[gender] ?? {};
        const expected = Object.entries(byYear).reduce((n, [y, c]) => (Number(y) >= year ? n + c : n), 0);
        return {
          path: `Patient?${enc([['birthdate', `ge${year}-01-01`], ['gender', gender]])}`,
          check: (b) => {
            const found = matches(b);
            const problems: string[] = [];
            expectCount(problems, found.length, Math.min(DEFAULT_COUNT, expected));
            if (found.some((r) => r?.gender !== gender || !(r?.birthDate >= `${year}-01-01`))) problems.push('a match has the wrong gender or birth date');
            return problems;
          },
        };
      };
    },
  },
  {
    id: '3',
    title: 'Observation?subject=Patient/x&code=http://loinc.org|8480-6&date=ge…&_sort=-date&_count=50',
    selective: true,
    p95TargetMs: 20,
    varies: 'sample patient; date 2023-01…2026-06',
    make: (m) => {
      const rand = prng(104);
      const dates = months(2023, 1, 2026, 6);
      return () => {
        const p = pick(rand, m.samples);
        const date = pick(rand, dates);
        const expected = p.systolicTimes.filter((t) => t >= Date.parse(`${date}T00:00:00Z`)).length;
        return {
          path: `Observation?${enc([['subject', `Patient/${p.id}`], ['code', `${SYSTEMS.loinc}|${OBSERVATIONS.systolic.code}`], ['date', `ge${date}`], ['_sort', '-date'], ['_count', '50']])}`,
          check: (b) => {
            const found = matches(b);
            const problems: string[] = [];
            expectCount(problems, found.length, Math.min(50, expected));
            if (found.some((r) => r?.subject?.reference !== `Patient/${p.id}` || r?.code?.coding?.[0]?.code !== OBSERVATIONS.systolic.code)) problems.push('a match has the wrong subject or code');
            for (let i = 1; i < found.length; i++) {
              if (ms(found[i - 1]?.effectiveDateTime) < ms(found[i]?.effectiveDateTime)) {
                problems.push('not sorted by date descending');
                break;
              }
            }
            return problems;
          },
        };
      };
    },
  },
  {
    id: '4',
    title: 'Observation?code=…&value-quantity=gt… (population)',
    selective: false,
    varies: VALUE_QUERIES.map(([c, t]) => `${c}>${t}`).join(', '),
    make: (m) => {
      const rand = prng(105);
      return () => {
        const [code, threshold] = pick(rand, VALUE_QUERIES);
        const expected = m.stats.observationsAbove[`${code}|${threshold}`] ?? 0;
        return {
          path: `Observation?${enc([['code', `${SYSTEMS.loinc}|${code}`], ['value-quantity', `gt${threshold}`]])}`,
          check: (b) => {
            const found = matches(b);
            const problems: string[] = [];
            expectCount(problems, found.length, Math.min(DEFAULT_COUNT, expected));
            if (found.some((r) => r?.code?.coding?.[0]?.code !== code || !(r?.valueQuantity?.value > threshold))) problems.push('a match has the wrong code or value');
            return problems;
          },
        };
      };
    },
  },
  {
    id: '5',
    title: 'Encounter?status=finished&date=ge…&_revinclude=Condition:encounter',
    selective: false,
    varies: 'date 2025-07…2026-06',
    make: () => {
      const rand = prng(106);
      const dates = months(2025, 7, 2026, 6);
      return () => {
        const date = pick(rand, dates);
        return {
          path: `Encounter?${enc([['status', 'finished'], ['date', `ge${date}`], ['_revinclude', 'Condition:encounter']])}`,
          check: (b) => {
            const found = matches(b);
            const problems: string[] = [];
            expectCount(problems, found.length, DEFAULT_COUNT);
            if (found.some((r) => r?.status !== 'finished' || !(ms(r?.period?.end) >= Date.parse(`${date}T00:00:00Z`)))) problems.push('a match is not finished or ended before the date');
            const conditions = included(b).filter((r) => r?.resourceType === 'Condition');
            const ids = new Set(found.map((r) => `Encounter/${r?.id}`));
            if (found.length && conditions.length === 0) problems.push('no Conditions included (_revinclude ignored?)');
            if (conditions.some((c) => !ids.has(c?.encounter?.reference))) problems.push('an included Condition does not refer to a matched Encounter');
            return problems;
          },
        };
      };
    },
  },
  {
    id: '6',
    title: 'Task?status=requested&_include=Task:patient&_sort=period (worklist)',
    selective: true,
    p95TargetMs: 20,
    varies: 'status requested | in-progress | requested,in-progress',
    make: (m) => {
      const rand = prng(107);
      const statuses = ['requested', 'requested', 'in-progress', 'requested,in-progress'];
      return () => {
        const status = pick(rand, statuses);
        const wanted = status.split(',');
        const expected = wanted.reduce((n, s) => n + (m.stats.tasksByStatus[s] ?? 0), 0);
        return {
          path: `Task?${enc([['status', status], ['_include', 'Task:patient'], ['_sort', 'period']])}`,
          check: (b) => {
            const found = matches(b);
            const problems: string[] = [];
            expectCount(problems, found.length, Math.min(DEFAULT_COUNT, expected));
            if (found.some((r) => !wanted.includes(r?.status))) problems.push('a match has the wrong status');
            for (let i = 1; i < found.length; i++) {
              if (ms(found[i - 1]?.executionPeriod?.start) > ms(found[i]?.executionPeriod?.start)) {
                problems.push('not sorted by period ascending');
                break;
              }
            }
            const patients = new Set(included(b).filter((r) => r?.resourceType === 'Patient').map((r) => `Patient/${r.id}`));
            const missing = found.filter((r) => !patients.has(r?.for?.reference)).length;
            if (missing) problems.push(`${missing} of ${found.length} Tasks without their Patient included`);
            return problems;
          },
        };
      };
    },
  },
  {
    id: '7',
    title: 'Patient?_has:Condition:subject:code=… (reverse chain)',
    selective: true,
    varies: 'ICD-10 code',
    make: (m) => {
      const rand = prng(108);
      const codes = Object.keys(m.stats.patientsWithCondition).sort();
      return () => {
        const code = pick(rand, codes);
        const expected = m.stats.patientsWithCondition[code] ?? 0;
        return {
          path: `Patient?${enc([['_has:Condition:subject:code', `${SYSTEMS.icd10cn}|${code}`]])}`,
          check: (b) => {
            const found = matches(b);
            const problems: string[] = [];
            expectCount(problems, found.length, Math.min(DEFAULT_COUNT, expected), `matches for ${code}`);
            if (found.some((r) => r?.resourceType !== 'Patient')) problems.push('a match is not a Patient');
            return problems;
          },
        };
      };
    },
  },
  {
    id: '8',
    title: 'Observation?subject.identifier=system|value (chain)',
    selective: true,
    varies: 'sample patient; MRN or resident ID',
    make: (m) => {
      const rand = prng(109);
      return () => {
        const p = pick(rand, m.samples);
        const [system, value] = identifierOf(p, rand);
        return {
          path: `Observation?${enc([['subject.identifier', `${system}|${value}`]])}`,
          check: (b) => {
            const found = matches(b);
            const problems: string[] = [];
            expectCount(problems, found.length, Math.min(DEFAULT_COUNT, p.observations));
            if (found.some((r) => r?.subject?.reference !== `Patient/${p.id}`)) problems.push('a match belongs to another patient');
            return problems;
          },
        };
      };
    },
  },
  {
    id: '9',
    title: 'Patient/x/$everything?_count=1000 (~500 resources)',
    selective: true,
    varies: 'heavy patient',
    make: (m) => {
      const rand = prng(110);
      return () => {
        const p = pick(rand, m.heavy);
        return {
          path: `Patient/${p.id}/$everything?_count=1000`,
          check: (b) => {
            const all = (b.entry ?? []).map((e) => e.resource);
            const problems: string[] = [];
            const own = all.filter((r) => r?.resourceType === 'Patient' ? r.id === p.id : r?.subject?.reference === `Patient/${p.id}` || r?.for?.reference === `Patient/${p.id}`).length;
            if (own !== p.resources) problems.push(`${own} of the patient's ${p.resources} resources returned (${all.length} entries)`);
            if (b.link?.some((l) => l.relation === 'next')) problems.push('paged although _count=1000');
            return problems;
          },
        };
      };
    },
  },
  {
    id: '10a',
    title: 'Observation?_total=accurate&_count=1',
    selective: false,
    totalCount: true,
    varies: 'nothing (one query)',
    make: (m) => () => ({
      path: 'Observation?_total=accurate&_count=1',
      check: (b) => {
        const problems: string[] = [];
        if (b.total !== m.stats.byType.Observation) problems.push(`total ${b.total}, expected ${m.stats.byType.Observation}`);
        return problems;
      },
    }),
  },
  {
    id: '10b',
    title: 'Observation?code=…&_total=accurate',
    selective: false,
    totalCount: true,
    varies: 'LOINC code (6)',
    make: (m) => {
      const rand = prng(111);
      return () => {
        const code = pick(rand, LOINC_CODES);
        return {
          path: `Observation?${enc([['code', `${SYSTEMS.loinc}|${code}`], ['_total', 'accurate']])}`,
          check: (b) => {
            const problems: string[] = [];
            const expected = m.stats.observationsByCode[code] ?? 0;
            if (b.total !== expected) problems.push(`total ${b.total} for ${code}, expected ${expected}`);
            expectCount(problems, matches(b).length, Math.min(DEFAULT_COUNT, expected));
            return problems;
          },
        };
      };
    },
  },
];
