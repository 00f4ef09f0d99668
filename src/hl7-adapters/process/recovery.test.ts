import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Pool } from '../../db/pool.ts';
import type { Hl7Processor } from './processor.ts';
import { Hl7RecoveryWorker } from './recovery.ts';

describe('Hl7RecoveryWorker', () => {
  it('takes messages of any age on its first pass, then only those older than graceMs', async () => {
    const graces: number[] = [];
    const pool = { query: async (_sql: string, params: unknown[]) => (graces.push(Number(params[0])), { rows: [] }) } as unknown as Pool;
    const worker = new Hl7RecoveryWorker({ pool, logger: pino({ level: 'silent' }), processor: {} as Hl7Processor, intervalMs: 50, graceMs: 2000 });
    worker.start();
    await new Promise((r) => setTimeout(r, 230));
    await worker.stop();
    expect(graces.length).toBeGreaterThanOrEqual(3);
    expect(graces[0]).toBe(0);
    expect(graces.slice(1).every((g) => g === 2)).toBe(true); // seconds
  });
});
