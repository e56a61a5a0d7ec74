/**
 * Point-in-time labels: a feature row at time t is positive when its entity has a label event
 * (e.g. a chargeback for a payment) with time in [t - window, t). Label times are sorted per
 * entity once; each row is then one binary search, O(rows log labels) in all.
 */
export class LabelIndex {
  private readonly times = new Map<string, Float64Array>();
  readonly events: number;

  /** `events`: (entity, label time) pairs in any order; repeats are harmless. */
  constructor(events: Iterable<{ entity: string; time: number }>) {
    const collected = new Map<string, number[]>();
    let count = 0;
    for (const { entity, time } of events) {
      let list = collected.get(entity);
      if (!list) collected.set(entity, (list = []));
      list.push(time);
      count++;
    }
    for (const [entity, list] of collected) this.times.set(entity, Float64Array.from(list).sort());
    this.events = count;
  }

  /** 1 when `entity` has a label with time in [time - windowMs, time), else 0. */
  label(entity: string, time: number, windowMs: number): 0 | 1 {
    const times = this.times.get(entity);
    if (!times) return 0;
    const first = lowerBound(times, time - windowMs);
    return first < times.length && times[first]! < time ? 1 : 0;
  }
}

/** The first index whose value is >= `value` (times.length when none is). */
function lowerBound(times: Float64Array, value: number): number {
  let low = 0;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (times[middle]! < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
