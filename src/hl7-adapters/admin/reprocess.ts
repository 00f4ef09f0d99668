/**
 * Reprocessing (issue 3: "failed messages … can be reprocessed (one, or all failed for a sender)
 * after a mapping or configuration fix"). A message goes back to `received` and the processor
 * applies it again — in arrival order per patient, idempotently (conditional writes), replacing
 * its Provenance. Rejected messages are not reprocessable: they never parsed or are of an
 * unsupported type, and the sender must send a corrected message.
 */
import type { Pool } from '../../db/pool.ts';
import { errors } from '../../fhir/index.ts';
import type { Hl7Processor, ProcessResult } from '../process/processor.ts';

export async function reprocessMessage(pool: Pool, processor: Hl7Processor, id: string): Promise<ProcessResult> {
  if (!/^\d{1,18}$/.test(id)) throw errors.hl7MessageNotFound(id);
  const current = await pool.query<{ status: string }>('SELECT status FROM hl7_message WHERE id = $1', [id]);
  const status = current.rows[0]?.status;
  if (!status) throw errors.hl7MessageNotFound(id);
  if (status === 'rejected') throw errors.hl7NotReprocessable(`message ${id} was rejected (unparseable or unsupported); send a corrected message instead`);
  await pool.query(`UPDATE hl7_message SET status = 'received' WHERE id = $1 AND status <> 'rejected'`, [id]);
  return (await processor.process(id)) as ProcessResult;
}

export interface BulkReprocessResult {
  reprocessed: number;
  processed: number;
  failed: number;
  ids: string[];
}

/** Reprocesses every message of a sender in the given status (default failed), oldest first. */
export async function reprocessSender(pool: Pool, processor: Hl7Processor, sender: { application: string; facility: string }, status: 'failed' | 'processed' = 'failed'): Promise<BulkReprocessResult> {
  const reset = await pool.query<{ id: string }>(
    `UPDATE hl7_message SET status = 'received'
      WHERE sender_application = $1 AND sender_facility = $2 AND status = $3
      RETURNING id::text`,
    [sender.application, sender.facility, status],
  );
  const ids = reset.rows.map((r) => r.id).sort((a, b) => Number(a) - Number(b));
  const result: BulkReprocessResult = { reprocessed: ids.length, processed: 0, failed: 0, ids };
  for (const id of ids) {
    const outcome = await processor.process(id);
    if (outcome?.status === 'processed') result.processed++;
    else if (outcome?.status === 'failed') result.failed++;
  }
  return result;
}
