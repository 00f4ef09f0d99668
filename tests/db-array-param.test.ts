// Array parameters sent as literals built by JSON.stringify (src/db/array-param.ts) must mean to
// PostgreSQL exactly what node-postgres's own encoding means: checked here against a real server,
// for the values a write sends (resource JSON, Chinese and non-BMP text, quotes and backslashes)
// and for those the literal is not used for.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrayParam } from '../src/db/array-param.ts';
import { createTestDatabase } from './helpers/database.ts';

let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: await createTestDatabase() });
  await client.connect();
});

afterAll(async () => {
  await client.end();
});

/** The array as PostgreSQL read it (`asText`: each element as PostgreSQL writes it out). */
async function roundTrip(type: string, values: unknown[], asText = false): Promise<unknown[]> {
  const { rows } = await client.query<{ v: unknown[] }>(`SELECT $1::${type}[]${asText ? '::text[]' : ''} AS v`, [arrayParam(values)]);
  return rows[0]!.v;
}

describe('arrayParam against PostgreSQL', () => {
  it('text: quotes, backslashes, braces, commas, spaces, "NULL", empty strings, nulls, Chinese and non-BMP characters come back as sent', async () => {
    const values = [
      JSON.stringify({ resourceType: 'Patient', name: [{ text: '张三 "Zhang" \\ San', family: '𠮷田' }], note: 'a\nb' }),
      'a,b',
      '{braces}',
      ' padded ',
      'NULL',
      'null',
      '',
      null,
      'back\\slash\\nliteral',
      '"',
      '\\',
      '😀 emoji',
    ];
    expect(typeof arrayParam(values)).toBe('string');
    expect(await roundTrip('text', values)).toEqual(values);
    expect(await roundTrip('text', [undefined, 'x'])).toEqual([null, 'x']);
  });

  it('numbers, booleans and timestamps keep their values', async () => {
    expect(await roundTrip('int', [1, -2, 0])).toEqual([1, -2, 0]);
    expect(await roundTrip('bool', [true, false, null])).toEqual([true, false, null]);
    expect(await roundTrip('numeric', [0.1, -0, 1e21, 123456789.123, '12.50'], true)).toEqual(['0.1', '0', '1000000000000000000000', '123456789.123', '12.50']);
    await client.query(`SET TIME ZONE 'UTC'`);
    expect(await roundTrip('timestamptz', ['2026-11-25T05:00:00.000Z', '-infinity', null], true)).toEqual(['2026-11-25 05:00:00+00', '-infinity', null]);
  });

  it('control characters still arrive intact, through node-postgres’s encoding', async () => {
    const values = ['line\nbreak', 'tab\there', 'bell\u0007', 'cr\r\\n'];
    expect(arrayParam(values)).toBe(values);
    expect(await roundTrip('text', values)).toEqual(values);
  });
});
