/**
 * Per-sender configuration rows (table hl7_sender, migration 0005). Read on every message (one
 * primary-key lookup), so a change applies to the next message without a restart.
 */
import type { Queryable } from '../../db/pool.ts';
import type { SenderConfig } from './sender-config.ts';
import { defaultSenderConfig, parseSenderConfig } from './sender-config.ts';

/** The sender's configuration, or the defaults when it has none. */
export async function loadSenderConfig(db: Queryable, application: string, facility: string): Promise<SenderConfig> {
  const result = await db.query<{ config: unknown }>('SELECT config FROM hl7_sender WHERE sender_application = $1 AND sender_facility = $2', [application, facility]);
  const row = result.rows[0];
  // Stored rows were validated when saved; parse again so defaults added later apply too.
  return row ? parseSenderConfig(application, facility, row.config) : defaultSenderConfig(application, facility);
}

/** Validates and saves (inserts or replaces) a sender's configuration. Throws SenderConfigError. */
export async function saveSenderConfig(db: Queryable, application: string, facility: string, input: unknown): Promise<SenderConfig> {
  const config = parseSenderConfig(application, facility, input);
  const { application: _a, facility: _f, ...stored } = config;
  await db.query(
    `INSERT INTO hl7_sender (sender_application, sender_facility, config) VALUES ($1, $2, $3)
     ON CONFLICT (sender_application, sender_facility) DO UPDATE SET config = EXCLUDED.config, updated_at = now()`,
    [application, facility, JSON.stringify(stored)],
  );
  return config;
}

export async function deleteSenderConfig(db: Queryable, application: string, facility: string): Promise<boolean> {
  const result = await db.query('DELETE FROM hl7_sender WHERE sender_application = $1 AND sender_facility = $2', [application, facility]);
  return (result.rowCount ?? 0) > 0;
}

export async function listSenderConfigs(db: Queryable): Promise<Array<SenderConfig & { updatedAt: string }>> {
  const result = await db.query<{ sender_application: string; sender_facility: string; config: unknown; updated_at: string }>(
    `SELECT sender_application, sender_facility, config, to_json(updated_at) #>> '{}' AS updated_at FROM hl7_sender ORDER BY sender_application, sender_facility`,
  );
  return result.rows.map((r) => ({ ...parseSenderConfig(r.sender_application, r.sender_facility, r.config), updatedAt: r.updated_at }));
}

/**
 * Sender configurations as the listener and processor read them: cached for `ttlMs` (two reads
 * per message otherwise), dropped at once when changed through this process (the admin API);
 * other server processes see a change within `ttlMs`.
 */
export class SenderConfigs {
  readonly #db: Queryable;
  readonly #ttlMs: number;
  readonly #cache = new Map<string, { at: number; config: Promise<SenderConfig> }>();

  constructor(db: Queryable, ttlMs: number) {
    this.#db = db;
    this.#ttlMs = ttlMs;
  }

  get(application: string, facility: string): Promise<SenderConfig> {
    const key = JSON.stringify([application, facility]);
    const hit = this.#cache.get(key);
    if (hit && Date.now() - hit.at < this.#ttlMs) return hit.config;
    const config = loadSenderConfig(this.#db, application, facility);
    if (this.#cache.size >= 10_000) this.#cache.clear();
    this.#cache.set(key, { at: Date.now(), config });
    config.catch(() => this.#cache.delete(key));
    return config;
  }

  async save(application: string, facility: string, input: unknown): Promise<SenderConfig> {
    try {
      return await saveSenderConfig(this.#db, application, facility, input);
    } finally {
      this.#cache.clear();
    }
  }

  async delete(application: string, facility: string): Promise<boolean> {
    try {
      return await deleteSenderConfig(this.#db, application, facility);
    } finally {
      this.#cache.clear();
    }
  }
}
