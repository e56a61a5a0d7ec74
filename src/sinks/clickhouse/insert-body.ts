/** Characters of JSON per body chunk (the string is short-lived; its bytes are what the request holds). */
const CHUNK_CHARS = 32 * 1024;

/**
 * An insert's body (one JSON document and a newline per row, as the client's insert would send)
 * built as UTF-8 chunks of about CHUNK_CHARS, outside the JS heap. The client's insert joins all
 * rows into one string held until the server has read it: a few MB per insert of 10,000 rows,
 * allocated as a large object, which only a full mark-compact reclaims. Strings of the chunks
 * would still outlive the young generation while a busy server reads slowly; Buffers keep the
 * bytes off the heap, and each chunk's string dies at once. Rows can be added over several
 * event-loop turns (see ClickHouseSink.writeRows).
 */
export class InsertBody {
  private readonly chunks: Buffer[] = [];
  private lines: string[] = [];
  private length = 0;

  add(value: unknown): void {
    const line = JSON.stringify(value);
    this.lines.push(line);
    this.length += line.length + 1;
    if (this.length >= CHUNK_CHARS) this.seal();
  }

  /** The chunks, each ending in a newline; the builder is spent. */
  finish(): Buffer[] {
    if (this.lines.length > 0) this.seal();
    return this.chunks;
  }

  private seal(): void {
    this.lines.push('');
    this.chunks.push(Buffer.from(this.lines.join('\n')));
    this.lines = [];
    this.length = 0;
  }
}

/** The body of `values` in one go (see InsertBody). */
export function bodyChunks(values: readonly unknown[]): Buffer[] {
  const body = new InsertBody();
  for (let i = 0; i < values.length; i++) body.add(values[i]);
  return body.finish();
}
