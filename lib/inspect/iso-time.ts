// An image header's time (seconds since the epoch) as ISO 8601, for the text and JSON reports
// alike; null where a Date cannot hold it.
export function isoTime(seconds: bigint): string | null {
  const ms = Number(seconds) * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return null;
  return new Date(ms).toISOString();
}
