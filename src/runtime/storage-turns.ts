/**
 * Event-loop turns for storage serialisation (SinkEnvironment.storageTurn), the slice-level
 * partner of DeferredWrites: where DeferredWrites holds a whole write back while a window close
 * is scored and pushed, this lets a write already under way (a ClickHouse insert serialised
 * slice by slice) pause between slices for the same reason. A turn is granted once `busy()` says
 * the close path is done, or at once when the work began more than `maxWaitMs` ago: storage
 * work waits behind pushes, never behind a backlog for good (a sink that is full holds the
 * source back, and with it whatever keeps the close path busy).
 */
export class StorageTurns {
  private busy: () => boolean = () => false;

  constructor(private readonly maxWaitMs: number) {}

  /** What "the close path is busy" means, known once the engine's parts exist. */
  watch(busy: () => boolean): void {
    this.busy = busy;
  }

  /** Resolves at a later turn the close path leaves free (or once `since` is maxWaitMs old). */
  readonly next = (since: number): Promise<void> =>
    new Promise((resolve) => {
      // The first look comes after this turn's I/O (setImmediate), later ones after a
      // millisecond: timers run before the model's callbacks and the pushes they resolve.
      const look = () => {
        if (!this.busy() || performance.now() - since >= this.maxWaitMs) resolve();
        else setTimeout(look, 1);
      };
      setImmediate(look);
    });
}
