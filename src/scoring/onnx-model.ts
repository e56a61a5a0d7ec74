import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ConfigError, errorMessage, ScoringError, TributaryError } from '../core/errors.ts';
import { featureNamesFromMetadata, readOnnxMetadata } from './onnx-metadata.ts';
import type { ScoringModel } from './scoring-model.ts';

/**
 * Session settings for scoring next to the event loop: one intra-op and one inter-op thread, and
 * no spinning threads, so inference never busy-waits on the core the event loop needs.
 */
const SESSION_OPTIONS: InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  // The Node binding joins nested keys with '.', giving session.intra_op.allow_spinning etc.
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
};

type OnnxRuntime = typeof import('onnxruntime-node');
let runtime: Promise<OnnxRuntime> | undefined;

/**
 * onnxruntime-node, loaded on the first model (about 30 MB of native code and its threads): a
 * topology without a score step never loads it.
 */
function onnxRuntime(): Promise<OnnxRuntime> {
  return (runtime ??= import('onnxruntime-node'));
}

export interface OnnxModelOptions {
  /** Default: the file name without .onnx. */
  name?: string;
  /** Default: the first 12 hex characters of the file's sha256, so a retrained file gets a new version. */
  version?: string;
}

/** An ONNX model with one float32 input [batch, features] and one output holding a probability per row. */
export class OnnxModel implements ScoringModel {
  readonly name: string;
  readonly version: string;
  readonly path: string;
  readonly featureNames: readonly string[] | undefined;
  readonly featureCount: number | undefined;
  readonly inputName: string;
  readonly outputName: string;
  private readonly session: InferenceSession;
  private readonly Tensor: typeof Tensor;
  private closed = false;

  private constructor(init: { path: string; name: string; version: string; session: InferenceSession; featureNames: readonly string[] | undefined; Tensor: typeof Tensor }) {
    this.Tensor = init.Tensor;
    this.path = init.path;
    this.name = init.name;
    this.version = init.version;
    this.session = init.session;
    this.featureNames = init.featureNames;
    this.inputName = init.session.inputNames[0]!;
    this.outputName = init.session.outputNames[0]!;
    this.featureCount = declaredWidth(init.session) ?? init.featureNames?.length;
  }

  /** Reads and checks the model file. A missing or invalid file is a ConfigError naming the path. */
  static async load(path: string, options: OnnxModelOptions = {}): Promise<OnnxModel> {
    const bytes = await readModelFile(path);
    const featureNames = readFeatureNames(path, bytes);
    const { InferenceSession, Tensor } = await onnxRuntime();
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(bytes, SESSION_OPTIONS);
    } catch (error) {
      throw new ConfigError('model', `${path} is not a model onnxruntime can load: ${errorMessage(error)}`, 'retrain it with `npm run train` or point the topology at a valid .onnx file');
    }
    const name = options.name ?? basename(path, extname(path));
    const version = options.version ?? createHash('sha256').update(bytes).digest('hex').slice(0, 12);
    const model = new OnnxModel({ path, name, version, session, featureNames, Tensor });
    try {
      model.checkSignature();
    } catch (error) {
      await session.release();
      throw error;
    }
    return model;
  }

  async score(features: Float32Array, rows: number): Promise<Float32Array> {
    if (this.closed) throw new TributaryError(`model ${this.name}@${this.version} is closed`, { retriable: false, code: 'SCORING_CLOSED' });
    const width = this.featureCount ?? (rows > 0 ? features.length / rows : 0);
    if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(width) || features.length < rows * width) {
      throw new TributaryError(`model ${this.name}@${this.version}: ${features.length} feature values cannot hold ${rows} rows of ${width}`, { retriable: false, code: 'SCORING_INPUT' });
    }
    if (rows === 0) return new Float32Array(0);
    // A view, not a copy: the micro-batcher's buffer may be larger than the rows it holds.
    const input = features.length === rows * width ? features : features.subarray(0, rows * width);
    let output: Tensor | undefined;
    try {
      const results = await this.session.run({ [this.inputName]: new this.Tensor('float32', input, [rows, width]) });
      output = results[this.outputName] as Tensor | undefined;
    } catch (error) {
      throw new ScoringError(`model ${this.name}@${this.version} failed to score ${rows} rows: ${errorMessage(error)}`, error);
    }
    if (!output || !(output.data instanceof Float32Array) || output.data.length < rows) {
      throw new ScoringError(`model ${this.name}@${this.version} returned ${output?.data.length ?? 'no'} ${output?.type ?? ''} values for ${rows} rows`);
    }
    return output.data.length === rows ? output.data : output.data.subarray(0, rows);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.session.release();
  }

  private checkSignature(): void {
    const fix = 'export a model with one float32 input [batch, features] and one output [batch, 1]';
    if (this.session.inputNames.length !== 1 || this.session.outputNames.length < 1) {
      throw new ConfigError('model', `${this.path} has inputs [${this.session.inputNames.join(', ')}] and outputs [${this.session.outputNames.join(', ')}]`, fix);
    }
    const declared = declaredWidth(this.session);
    if (declared !== undefined && this.featureNames !== undefined && declared !== this.featureNames.length) {
      throw new ConfigError('model', `${this.path} takes ${declared} features but its metadata names ${this.featureNames.length}`, fix);
    }
  }
}

async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ConfigError('model', `model file ${path} does not exist`, 'run `npm run train` to write it, or point the topology at an existing .onnx file');
    }
    throw new ConfigError('model', `model file ${path} cannot be read: ${errorMessage(error)}`, 'check the path and its permissions');
  }
}

function readFeatureNames(path: string, bytes: Uint8Array): string[] | undefined {
  try {
    return featureNamesFromMetadata(readOnnxMetadata(bytes));
  } catch (error) {
    throw new ConfigError('model', `${path} is not a valid ONNX file: ${errorMessage(error)}`, 'retrain it with `npm run train`');
  }
}

/** The input's second dimension when the model fixes it. */
function declaredWidth(session: InferenceSession): number | undefined {
  const input = session.inputMetadata[0];
  if (!input?.isTensor) return undefined;
  const width = input.shape[1];
  return typeof width === 'number' && width > 0 ? width : undefined;
}
