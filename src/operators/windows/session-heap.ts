/**
 * A binary min-heap of items by a numeric priority, in two parallel arrays (no per-entry object).
 * Session and sliding state use it with lazy re-insertion: an item's priority is a lower bound
 * of its real deadline, checked when it reaches the top, so growing a deadline costs nothing.
 *
 * @example
 * const heap = new MinHeap<string>();
 * heap.push(20, 'b'); heap.push(10, 'a');
 * heap.peekPriority(); // 10
 * heap.pop(); // 'a'
 */
export class MinHeap<T> {
  private readonly priorities: number[] = [];
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** Priority of the top item; Infinity when empty. */
  peekPriority(): number {
    return this.items.length === 0 ? Infinity : this.priorities[0]!;
  }

  push(priority: number, item: T): void {
    const priorities = this.priorities;
    const items = this.items;
    let i = items.length;
    priorities.push(priority);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (priorities[parent]! <= priority) break;
      priorities[i] = priorities[parent]!;
      items[i] = items[parent]!;
      i = parent;
    }
    priorities[i] = priority;
    items[i] = item;
  }

  /** Removes and returns the item with the smallest priority; undefined when empty. */
  pop(): T | undefined {
    const priorities = this.priorities;
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0]!;
    const lastPriority = priorities.pop()!;
    const lastItem = items.pop()!;
    const n = items.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && priorities[right]! < priorities[left]! ? right : left;
        if (priorities[child]! >= lastPriority) break;
        priorities[i] = priorities[child]!;
        items[i] = items[child]!;
        i = child;
      }
      priorities[i] = lastPriority;
      items[i] = lastItem;
    }
    return top;
  }
}
