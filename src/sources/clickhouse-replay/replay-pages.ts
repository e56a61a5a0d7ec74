/**
 * One page query: the rows with time in [from, to), ordered by time then the tiebreak columns,
 * `limit` of them after skipping `offset`.
 */
export interface PageRequest {
  from: number;
  to: number;
  limit: number;
  offset: number;
}

export interface PageOptions {
  /** Epoch ms, inclusive; integers (the time column is an integer column). */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
  pageSize: number;
  /** Rows in [from, to), if known: sizes the first time slice. */
  total?: number;
}

/**
 * The rows of [from, to) in time order, a page at a time, so memory holds a page or two whatever
 * the range. Each query reads one time slice [lo, hi): the servers cannot seek by time in a
 * table sorted by another key (and FINAL merges whatever the query covers), so a slice that
 * holds about a page keeps every query about a page's work. The slice adapts to the density of
 * the rows. A full page ends inside its slice: its rows at the page's last time are dropped and
 * read again by the next query, which starts at that time, so no cursor over the tiebreak
 * columns is needed and equal rows are neither lost nor doubled. When a single millisecond holds
 * a page or more, it is read on its own with LIMIT/OFFSET.
 */
export async function* replayPages<R>(read: (request: PageRequest) => Promise<R[]>, timeOf: (row: R) => number, options: PageOptions): AsyncGenerator<R[]> {
  const { pageSize, to } = options;
  const range = to - options.from;
  let lo = options.from;
  // About a page per slice when rows are spread evenly; refined by what each query returns.
  let span = options.total ? Math.max(1, Math.ceil((range * pageSize) / options.total)) : range;
  while (lo < to) {
    const hi = Math.min(to, lo + span);
    const rows = await read({ from: lo, to: hi, limit: pageSize, offset: 0 });
    if (rows.length < pageSize) {
      if (rows.length > 0) yield rows;
      lo = hi;
      if (rows.length < pageSize / 4) span = Math.min(range, span * 2);
      continue;
    }
    const first = timeOf(rows[0]!);
    const last = timeOf(rows[rows.length - 1]!);
    if (last > first) {
      let end = rows.length - 1;
      while (timeOf(rows[end - 1]!) === last) end--;
      yield rows.slice(0, end);
      span = Math.max(1, last - lo);
      lo = last;
      continue;
    }
    // A page or more in one millisecond.
    yield rows;
    for (let offset = rows.length; ; ) {
      const more = await read({ from: first, to: first + 1, limit: pageSize, offset });
      if (more.length > 0) yield more;
      if (more.length < pageSize) break;
      offset += more.length;
    }
    lo = first + 1;
  }
}
