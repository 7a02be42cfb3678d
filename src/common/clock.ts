/**
 * The clock, injected everywhere time matters (leases, heartbeats, timeouts) so tests and a
 * future seeded simulation can drive time instead of waiting for it.
 */
export interface Clock {
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

export class ManualClock implements Clock {
  constructor(private ms = 1_700_000_000_000) {}
  nowMs(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
