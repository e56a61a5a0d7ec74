import type { Observable, Subscriber } from 'rxjs';
import { releaseAll, retainAll } from '../core/ack.ts';
import type { Batch } from '../core/batch.ts';

/**
 * Subscribes to two streams computed from the same source (one batch each per source batch) and
 * calls `onPair` with batch i of the left and batch i of the right, whichever side emits first.
 * A batch waiting for its partner keeps its acks retained: without that, an upstream window
 * could let its offsets commit before any sink has the rows derived from it. Errors go to
 * `subscriber`, which completes once both sides have. Returns the teardown.
 */
export function subscribePairs<L, R>(
  left: Observable<Batch<L>>,
  right: Observable<Batch<R>>,
  subscriber: Subscriber<unknown>,
  onPair: (left: Batch<L>, right: Batch<R>) => void,
): () => void {
  const pendingLeft: Batch<L>[] = [];
  const pendingRight: Batch<R>[] = [];
  let completed = 0;
  const completeOne = () => {
    if (++completed === 2) subscriber.complete();
  };
  const leftSubscription = left.subscribe({
    next(batch) {
      const partner = pendingRight.shift();
      if (partner === undefined) {
        retainAll(batch.acks);
        pendingLeft.push(batch);
        return;
      }
      onPair(batch, partner);
      releaseAll(partner.acks);
    },
    error: (error) => subscriber.error(error),
    complete: completeOne,
  });
  const rightSubscription = right.subscribe({
    next(batch) {
      const partner = pendingLeft.shift();
      if (partner === undefined) {
        retainAll(batch.acks);
        pendingRight.push(batch);
        return;
      }
      onPair(partner, batch);
      releaseAll(partner.acks);
    },
    error: (error) => subscriber.error(error),
    complete: completeOne,
  });
  return () => {
    leftSubscription.unsubscribe();
    rightSubscription.unsubscribe();
  };
}
