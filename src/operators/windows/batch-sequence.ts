/**
 * Numbers the batches one operator sees, so window state can remember which batch last touched
 * it (to retain that batch's acks once) by number. Holding the batch object instead kept its
 * whole records array alive for as long as the state went untouched: per slice of a staggered
 * window, per session of a session window, promoted into the old space.
 */
export class BatchSequence {
  private latest: object | null = null;
  private seq = 0;

  /** The number of `batch`: the same while it is the latest seen, one more for each new one (from 1). */
  of(batch: object): number {
    if (batch !== this.latest) {
      this.latest = batch;
      this.seq++;
    }
    return this.seq;
  }
}
