/**
 * Retry delays for failed deliveries: exponential (1 s, 2 s, 4 s … capped at `maxMs`) with full
 * jitter between half and the whole delay, so endpoints that come back are not hit by every
 * waiting subscription in the same instant.
 */
export function retryDelayMs(attempt: number, options: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  const exponential = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}
