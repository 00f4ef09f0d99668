/**
 * Small helpers the benchmarks share: a bounded numeric environment variable, and how numbers
 * are printed in the markdown reports (thousands separated, about three significant digits).
 */

/** `env[name]` as a number in [min, max], `fallback` when unset or blank; throws a clear error otherwise. */
export function numberEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${name} must be a number from ${min} to ${max}, got "${raw}"`);
  return value;
}

/** A number for a report: "–" when missing, "∞" when infinite, else `digits` decimals or ~3 significant digits. */
export function formatNumber(n: number | undefined, digits?: number): string {
  if (n === undefined || Number.isNaN(n)) return '–';
  if (!Number.isFinite(n)) return '∞';
  if (digits !== undefined) return n.toFixed(digits);
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** A latency that may not have happened within the drain period: "> N s¹" then (the reports footnote it). */
export function formatLatency(ms: number | null, drainSeconds: number): string {
  return ms === null || !Number.isFinite(ms) ? `> ${formatNumber(drainSeconds, 0)} s¹` : formatNumber(ms);
}

/** Cores used by the server, its PostgreSQL and the bench ("–" when not measured). */
export function formatCores(c: { server: number | undefined; postgres: number | undefined; bench: number } | undefined): string {
  return c ? `${formatNumber(c.server, 2)} / ${formatNumber(c.postgres, 2)} / ${formatNumber(c.bench, 2)}` : '–';
}
