/**
 * Human-readable output: aligned columns and key/value blocks. Everything printed here comes from
 * views (`toView`, drift reports, the health view), which never hold clientState and show URLs
 * with their query values hidden.
 */

export type Cell = string | number | boolean | null | undefined;

/** Columns padded to their widest cell, two spaces apart, no trailing spaces. */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly Cell[])[],
): string {
  const text = [headers, ...rows].map((row) => headers.map((_, i) => cellText(row[i])));
  const widths = headers.map((_, i) => Math.max(...text.map((row) => (row[i] ?? '').length)));
  return text
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `label   value` lines, labels padded to the longest. */
export function formatPairs(pairs: readonly (readonly [string, Cell])[]): string {
  const width = Math.max(...pairs.map(([label]) => label.length)) + 2;
  return pairs
    .map(([label, value]) => `${label.padEnd(width)}${cellText(value)}`.trimEnd())
    .join('\n');
}

export function cellText(value: Cell): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  // NOTE: one line per row, whatever a message holds.
  return String(value).replace(/\s+/g, ' ');
}

/** `2026-06-04 11:55Z (in 2d 23h)`: minute precision and how far from now. */
export function formatTime(iso: string | null | undefined, now: Date): string {
  if (iso === null || iso === undefined) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const stamp = `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
  const delta = t - now.getTime();
  const span = formatSpan(Math.abs(delta));
  return `${stamp} (${delta >= 0 ? `in ${span}` : `${span} ago`})`;
}

export function formatSpan(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return `${Math.max(0, Math.round(ms / 1000))}s`;
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
