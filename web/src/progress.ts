/** Pure progress bookkeeping: bytes shown never go back, speed is smoothed, ETA follows. */

export interface ProgressSnapshot {
  readonly bytes: number;
  readonly total: number;
  /** Bytes per second, smoothed. */
  readonly speed: number;
  /** Seconds left, or null while the speed is unknown. */
  readonly etaS: number | null;
}

/** Weight of the newest speed sample: about the last few seconds count. */
const SMOOTHING = 0.3;
const MIN_SAMPLE_MS = 250;

export class Progress {
  private confirmed = 0;
  private readonly inFlight = new Map<number, number>();
  private shown = 0;
  private speed = 0;
  private lastAt: number;
  private lastBytes = 0;

  constructor(
    readonly total: number,
    now: number,
  ) {
    this.lastAt = now;
  }

  /** Bytes S3 already holds (after a resume). */
  setConfirmed(bytes: number): void {
    this.confirmed = Math.max(this.confirmed, Math.min(bytes, this.total));
    this.raise();
  }

  /** An attempt at part `part` has sent `loaded` bytes so far. */
  update(part: number, loaded: number): void {
    this.inFlight.set(part, loaded);
    this.raise();
  }

  /** Part `part` is stored: its bytes are confirmed. */
  done(part: number, size: number): void {
    this.inFlight.delete(part);
    this.confirmed = Math.min(this.total, this.confirmed + size);
    this.raise();
  }

  /** An attempt failed: its bytes will be sent again, but what is shown does not go back. */
  reset(part: number): void {
    this.inFlight.delete(part);
  }

  finish(): void {
    this.inFlight.clear();
    this.confirmed = this.total;
    this.raise();
  }

  snapshot(now: number): ProgressSnapshot {
    const elapsed = now - this.lastAt;
    if (elapsed >= MIN_SAMPLE_MS) {
      const sample = ((this.shown - this.lastBytes) * 1000) / elapsed;
      this.speed = this.speed === 0 ? sample : SMOOTHING * sample + (1 - SMOOTHING) * this.speed;
      this.lastAt = now;
      this.lastBytes = this.shown;
    }
    const left = this.total - this.shown;
    const etaS = left === 0 ? 0 : this.speed > 0 ? left / this.speed : null;
    return { bytes: this.shown, total: this.total, speed: this.speed, etaS };
  }

  get bytes(): number {
    return this.shown;
  }

  private raise(): void {
    let sending = 0;
    for (const loaded of this.inFlight.values()) sending += loaded;
    this.shown = Math.max(this.shown, Math.min(this.total, this.confirmed + sending));
  }
}

/** Overall progress of several files: sums of bytes and speeds, ETA from both. */
export function overall(snapshots: readonly ProgressSnapshot[]): ProgressSnapshot {
  let bytes = 0;
  let total = 0;
  let speed = 0;
  for (const one of snapshots) {
    bytes += one.bytes;
    total += one.total;
    speed += one.speed;
  }
  const left = total - bytes;
  return { bytes, total, speed, etaS: left === 0 ? 0 : speed > 0 ? left / speed : null };
}
