/**
 * Plain-text tables as kubectl prints them: upper-case headers, columns
 * padded to the widest cell and separated by three spaces, no borders.
 */

/** Formats `rows` under `headers`; returns the text with a trailing newline. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("   ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}
