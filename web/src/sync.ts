/** Small concurrency helpers: a counting semaphore and a gate that opens and closes. */

export class Semaphore {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(slots: number) {
    this.free = slots;
  }

  /** Wait for a slot; call the returned function exactly once to give it back. */
  async acquire(): Promise<() => void> {
    if (this.free > 0) {
      this.free -= 1;
    } else {
      await new Promise<void>((granted) => this.waiting.push(granted));
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free += 1;
    };
  }
}

/** Open: `passed()` resolves at once; closed: it resolves when the gate opens again. */
export class Gate {
  private opened: Promise<void> = Promise.resolve();
  private openIt: (() => void) | null = null;

  get isOpen(): boolean {
    return this.openIt === null;
  }

  close(): void {
    if (this.openIt) return;
    this.opened = new Promise((resolve) => {
      this.openIt = resolve;
    });
  }

  open(): void {
    const openIt = this.openIt;
    this.openIt = null;
    openIt?.();
  }

  passed(): Promise<void> {
    return this.opened;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
