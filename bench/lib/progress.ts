/**
 * The progress display on stderr: one line rewritten in place on a terminal, one line per step
 * otherwise (CI logs, pipes).
 */
export class Progress {
  readonly #started = performance.now();
  readonly #tty = process.stderr.isTTY === true;
  #total: number;
  #done = 0;
  #last = '';

  constructor(totalSteps: number) {
    this.#total = totalSteps;
  }

  /** Announces the step about to run. */
  step(label: string): void {
    this.#done++;
    const elapsed = (performance.now() - this.#started) / 1000;
    const eta = this.#done > 1 ? (elapsed / (this.#done - 1)) * (this.#total - this.#done + 1) : NaN;
    const line = `[${this.#done}/${this.#total}] ${label}  (${fmt(elapsed)} elapsed${Number.isFinite(eta) ? `, ~${fmt(eta)} left` : ''})`;
    this.#last = line;
    if (this.#tty) process.stderr.write(`\r\x1b[K${line}`);
    else process.stderr.write(line + '\n');
  }

  /** A message that stays on screen. */
  note(message: string): void {
    if (this.#tty) process.stderr.write(`\r\x1b[K${message}\n${this.#last}`);
    else process.stderr.write(message + '\n');
  }

  finish(): void {
    if (this.#tty) process.stderr.write('\r\x1b[K');
    process.stderr.write(`done in ${fmt((performance.now() - this.#started) / 1000)}\n`);
  }
}

function fmt(s: number): string {
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}
