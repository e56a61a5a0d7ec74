import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../core/errors.ts';

/**
 * Model files: ONNX files in the model directory (TRIBUTARY_MODEL_DIR, else the repository's
 * models/), named `<model>-<version>.onnx` where the version is the first 12 hex digits of the
 * file's SHA-256, so a file name says exactly which bytes it holds and retraining on the same
 * data writes the same file again.
 */

const REPOSITORY_MODELS = fileURLToPath(new URL('../../models', import.meta.url));
const MODEL_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/**
 * TRIBUTARY_MODEL_DIR (resolved against the working directory), else the package's models/.
 * The CLI's batch commands read the environment; the engine passes its configuration instead.
 */
export function defaultModelDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.TRIBUTARY_MODEL_DIR;
  return configured ? path.resolve(configured) : REPOSITORY_MODELS;
}

/** Where a registered file lives: absolute names as they are, others inside `directory`. */
export function modelFilePath(file: string, directory: string = REPOSITORY_MODELS): string {
  return path.isAbsolute(file) ? file : path.join(directory, file);
}

/**
 * The name to register for a file: relative to `directory` when it lies inside it (so the
 * registry survives moving the directory), else absolute.
 */
export function registeredFileName(filePath: string, directory: string = defaultModelDirectory()): string {
  const absolute = path.resolve(filePath);
  const relative = path.relative(directory, absolute);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : absolute;
}

/** Hex SHA-256 of a file's bytes, streamed (model files may be large). */
export function sha256OfFile(filePath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(filePath)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export function sha256OfBytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The registry version of a file: the first 12 hex digits of its SHA-256. */
export function versionOf(sha256: string): string {
  return sha256.slice(0, 12);
}

export interface WrittenModelFile {
  /** File name inside the directory, `<model>-<version>.onnx`. */
  file: string;
  /** Absolute path. */
  path: string;
  sha256: string;
  version: string;
}

/**
 * Writes a model's bytes as `<model>-<version>.onnx` in `directory` (created if absent). The
 * bytes go to a temporary file first and are renamed into place, so a reader (the engine
 * loading the live model) never sees half a file.
 */
export async function writeModelFile(bytes: Uint8Array, model: string, directory: string = defaultModelDirectory()): Promise<WrittenModelFile> {
  if (!MODEL_NAME.test(model)) {
    throw new ConfigError('model', `"${model}" is not a valid model name`, "use lowercase letters, digits, - and _ (e.g. 'fraud-lr')");
  }
  const sha256 = sha256OfBytes(bytes);
  const version = versionOf(sha256);
  const file = `${model}-${version}.onnx`;
  const target = path.join(path.resolve(directory), file);
  await mkdir(path.dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.tmp`;
  await writeFile(temporary, bytes);
  await rename(temporary, target);
  return { file, path: target, sha256, version };
}
