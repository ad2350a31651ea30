/**
 * A one-line progress bar on stderr, redrawn at most every 100 ms. Silent when stderr is not a
 * terminal (scripts, tests), so stdout stays clean for the hash or the JSON.
 */
export class Progress {
  readonly #label: string;
  readonly #total: number | undefined;
  readonly #enabled: boolean;
  readonly #started = Date.now();
  #done = 0;
  #lastDraw = 0;

  constructor(label: string, total: number | undefined, enabled = process.stderr.isTTY === true) {
    this.#label = label;
    this.#total = total;
    this.#enabled = enabled;
  }

  add(bytes: number): void {
    this.#done += bytes;
    const now = Date.now();
    if (this.#enabled && now - this.#lastDraw >= 100) {
      this.#lastDraw = now;
      this.#draw();
    }
  }

  finish(): void {
    if (!this.#enabled) return;
    this.#draw();
    process.stderr.write("\n");
  }

  #draw(): void {
    const seconds = Math.max((Date.now() - this.#started) / 1000, 0.001);
    const rate = `${formatBytes(this.#done / seconds)}/s`;
    let line: string;
    if (this.#total !== undefined && this.#total > 0) {
      const ratio = Math.min(this.#done / this.#total, 1);
      const width = 30;
      const filled = Math.round(ratio * width);
      line = `${this.#label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${formatBytes(this.#done)}/${formatBytes(this.#total)} ${rate}`;
    } else {
      line = `${this.#label} ${formatBytes(this.#done)} ${rate}`;
    }
    process.stderr.write(`\r${line}\u001b[K`);
  }
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
