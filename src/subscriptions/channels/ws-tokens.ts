/**
 * Websocket binding tokens (`$get-ws-binding-token`, R5 Backport IG): a random token a client
 * sends as `bind-with-token {token}` to receive a subscription's notifications over the
 * websocket. Only its SHA-256 is stored, with the subscriptions it covers and its expiry, so any
 * server process accepts it; it can be used (e.g. for a reconnect) until it expires.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from '../../db/pool.ts';

export const TOKEN_TTL_SECONDS = 300;

const hash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

export async function issueBindingToken(pool: Pool, subscriptionIds: readonly string[], ttlSeconds = TOKEN_TTL_SECONDS): Promise<{ token: string; expiresAt: string }> {
  const token = randomBytes(32).toString('base64url');
  const { rows } = await pool.query<{ expires_at: string }>(
    `WITH expired AS (DELETE FROM subscription_ws_token WHERE expires_at < now())
     INSERT INTO subscription_ws_token (token_hash, subscription_ids, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
     RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS expires_at`,
    [hash(token), subscriptionIds, ttlSeconds],
  );
  return { token, expiresAt: rows[0]!.expires_at };
}

export async function resolveBindingToken(pool: Pool, token: string): Promise<{ ids: string[] } | { problem: string }> {
  const { rows } = await pool.query<{ subscription_ids: string[]; expired: boolean }>(
    'SELECT subscription_ids, expires_at < now() AS expired FROM subscription_ws_token WHERE token_hash = $1',
    [hash(token)],
  );
  const row = rows[0];
  if (!row) return { problem: 'unknown binding token; get one with Subscription/{id}/$get-ws-binding-token' };
  if (row.expired) return { problem: 'the binding token has expired; get a new one with $get-ws-binding-token' };
  return { ids: row.subscription_ids };
}
