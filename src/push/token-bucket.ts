/**
 * A token bucket: `burst` messages at once, refilled at `perSecond`. Tracks how many messages were
 * refused since the bucket was last full, which tells a brief burst (answered with one error frame)
 * from a client that keeps flooding (disconnected).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  /** Messages refused since the bucket was last full. */
  refused = 0;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token; false when the client is over its rate. */
  take(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens >= this.burst) this.refused = 0;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.refused += 1;
    return false;
  }
}
