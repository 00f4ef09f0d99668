/**
 * Server-assigned resource ids: UUID version 7 (RFC 9562 §5.7), a 48-bit Unix-millisecond
 * timestamp followed by 74 random bits.
 *
 * Why not version 4: every index keyed by a resource's id (the resource and history primary keys,
 * each search table's per-resource index, the event log) receives one entry per new resource. With
 * random ids each entry lands on a random leaf page, so once the indexes outgrow shared buffers
 * almost every insert reads a page back, and after each checkpoint dirties it again with a full-page
 * image in the WAL — PostgreSQL's cost per HL7 message rose from 2.6 to 4.5 ms over a 30-minute
 * soak (bench/hl7/RESULTS.md). Time-ordered ids put a moment's new entries on the same few
 * right-hand pages. Written in lowercase hex of fixed width, they sort by time in the cluster's
 * C collation as they do as UUIDs.
 *
 * What an id reveals: the millisecond its resource was first created, which `meta.lastUpdated` of
 * its first version and its `_history` already show to anyone who may read it.
 */
import { randomUUID } from 'node:crypto';

/**
 * A new UUIDv7 string. Its random part is taken from `randomUUID()` (whose variant bits are
 * already the RFC's `10`), with the timestamp written over the first 48 bits and the version set.
 */
export function newResourceId(now: number = Date.now()): string {
  const random = randomUUID(); // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx
  const time = now.toString(16).padStart(12, '0');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`;
}
