/** A Markdown table (it reads in a terminal and pastes into bench/README.md as it is). */
export function markdownTable(
  headers: string[],
  rows: string[][],
  rightAligned: readonly number[] = [],
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const cell = (text: string, i: number) =>
    rightAligned.includes(i) ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
  const line = (cells: string[]) => `| ${cells.map(cell).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (rightAligned.includes(i) ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(headers), rule, ...rows.map(line)].join("\n");
}

export const fixed = (n: number, digits = 0): string => n.toFixed(digits);
/** Floored, so a ratio shown as 70% is never one that missed a 70% target. */
export const percent = (ratio: number): string => `${Math.floor(ratio * 100)}%`;
