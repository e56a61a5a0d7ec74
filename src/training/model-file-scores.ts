import { OnnxModel } from '../scoring/onnx-model.ts';

/**
 * The scores a model file gives `vectors`, computed by the file itself (onnxruntime, float32
 * inputs), in chunks: a drift baseline of the score must be what serving will see, not a float64
 * recomputation (the two differ by enough to move rows across the baseline's bin edges).
 */
export async function scoresOfModelFile(path: string, vectors: ReadonlyArray<ArrayLike<number>>, chunkRows = 65_536): Promise<Float32Array> {
  const model = await OnnxModel.load(path);
  try {
    const scores = new Float32Array(vectors.length);
    const width = vectors[0]?.length ?? 0;
    for (let start = 0; start < vectors.length; start += chunkRows) {
      const rows = Math.min(chunkRows, vectors.length - start);
      const features = new Float32Array(rows * width);
      for (let r = 0; r < rows; r++) features.set(vectors[start + r]!, r * width);
      scores.set((await model.score(features, rows)).subarray(0, rows), start);
    }
    return scores;
  } finally {
    await model.close();
  }
}
