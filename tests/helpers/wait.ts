/**
 * Polls `check` until it gives a value (anything but undefined or false), and returns it; fails
 * naming `what` after `timeoutMs`. For effects that happen asynchronously after a request
 * (subscription deliveries, follow-up writes).
 */
export async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
