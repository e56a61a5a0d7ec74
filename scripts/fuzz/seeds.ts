/** A seed for chunk `chunk` of a run: chunks can be generated (and replayed) on their own. */
export function chunkSeed(seed: number, chunk: number): number {
  return (seed + Math.imul(chunk + 1, 0x9e3779b1)) | 0;
}
