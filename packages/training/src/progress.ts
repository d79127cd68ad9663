/**
 * @file Progress of long work: on a terminal, one live line (a bar, the step, the loss, the learning rate,
 * steps per second and the time left); elsewhere (CI, a pipe) one plain line every `every` steps, so logs
 * stay short and readable.
 */

export interface ProgressOptions {
  /** Where lines go (process.stderr by default, so results on stdout stay clean). */
  stream?: { write(text: string): unknown; isTTY?: boolean };
  /** Plain-log mode: a line every this many steps (default: about ten lines per task). */
  every?: number;
}

export class Progress {
  readonly #stream: NonNullable<ProgressOptions["stream"]>;
  readonly #live: boolean;
  readonly #every: number;
  readonly #started = performance.now();
  #lastDraw = 0;

  constructor(
    readonly label: string,
    readonly total: number,
    options: ProgressOptions = {},
  ) {
    this.#stream = options.stream ?? process.stderr;
    this.#live = Boolean(this.#stream.isTTY);
    this.#every = options.every ?? Math.max(1, Math.round(total / 10));
  }

  /** After step `step` (1-based) of `total`, with the values to show. */
  update(step: number, values: { loss?: number; lr?: number } = {}): void {
    const now = performance.now();
    const seconds = (now - this.#started) / 1000;
    const rate = step / Math.max(seconds, 1e-9);
    const left = (this.total - step) / Math.max(rate, 1e-9);
    const parts = [
      `${this.label} ${step}/${this.total}`,
      values.loss === undefined ? "" : `loss ${values.loss.toFixed(4)}`,
      values.lr === undefined ? "" : `lr ${values.lr.toExponential(2)}`,
      `${rate.toFixed(1)} steps/s`,
      `${formatDuration(left)} left`,
    ].filter(Boolean);
    if (this.#live) {
      // redraw at most 10 times a second: a terminal is slower than a fast loop
      if (step < this.total && now - this.#lastDraw < 100) return;
      this.#lastDraw = now;
      const width = 20;
      const filled = Math.round((width * step) / this.total);
      this.#stream.write(`\r\x1b[2K[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${parts.join("  ")}`);
    } else if (step % this.#every === 0 || step === this.total) {
      this.#stream.write(`${parts.join("  ")}\n`);
    }
  }

  /** Ends the live line (a no-op in plain-log mode). */
  done(): void {
    if (this.#live) this.#stream.write("\n");
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${seconds.toFixed(0)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds - 60 * m)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
