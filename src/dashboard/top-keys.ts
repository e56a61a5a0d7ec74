/** The keys with the highest latest score, with their latest item, for the top-risk table. */
export class TopKeys {
  private readonly latest = new Map<string, { score: number; item: Record<string, unknown>; at: number }>();

  constructor(private readonly size: number) {}

  offer(key: string, score: number, item: Record<string, unknown>): void {
    this.latest.set(key, { score, item, at: Date.now() });
    // Bounded: forget the lowest scores once it holds many keys.
    if (this.latest.size > 2_000) {
      const keep = [...this.latest].sort((a, b) => b[1].score - a[1].score).slice(0, 1_000);
      this.latest.clear();
      for (const [k, v] of keep) this.latest.set(k, v);
    }
  }

  render(tbody: HTMLElement, keyField: string, scoreField: string): void {
    const top = [...this.latest].sort((a, b) => b[1].score - a[1].score).slice(0, this.size);
    tbody.replaceChildren(
      ...top.map(([key, { score, item, at }]) => {
        const row = document.createElement('tr');
        row.className = score >= 0.5 ? 'high' : '';
        const cells = [key, `${(score * 100).toFixed(1)}%`, String(item.model ?? ''), String(item.source ?? ''), new Date(at).toLocaleTimeString()];
        for (const text of cells) {
          const cell = document.createElement('td');
          cell.textContent = text;
          row.append(cell);
        }
        row.title = `${keyField}=${key} ${scoreField}=${score}`;
        return row;
      }),
    );
  }
}
