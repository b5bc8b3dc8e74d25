/**
 * At most one log line per period for a flood of one kind (malformed heartbeats, refused control
 * commands, heartbeats the broker does not back): the line carries how many were suppressed since
 * the one before. The bus is hostile, so a flood must cost neither a line nor an allocation each.
 */
export class LogThrottle {
  readonly #periodMs: number;
  #lastLog = -Infinity;
  #suppressed = 0;

  constructor(periodMs: number) {
    this.#periodMs = periodMs;
  }

  /**
   * For an occurrence at `now`: null when it is not to be logged (it is counted), else how many
   * were suppressed since the last line, to log with this one.
   */
  take(now: number): number | null {
    if (now - this.#lastLog < this.#periodMs) {
      this.#suppressed++;
      return null;
    }
    const suppressed = this.#suppressed;
    this.#lastLog = now;
    this.#suppressed = 0;
    return suppressed;
  }
}
