import { TributaryError } from '../core/errors.ts';
import { modelFilePath } from '../registry/model-files.ts';
import type { ModelVersion } from '../registry/model-registry.ts';
import { OnnxModel } from './onnx-model.ts';

/**
 * Loads a registered version's ONNX file and checks it is the file that was registered (its
 * version is its sha256 prefix), so a file replaced in the model directory is never served.
 */
export async function loadRegisteredModel(version: ModelVersion, directory?: string): Promise<OnnxModel> {
  const path = modelFilePath(version.file, directory);
  const model = await OnnxModel.load(path, { name: version.model });
  if (model.version !== version.version) {
    await model.close();
    throw new TributaryError(
      `${version.model}@${version.version}: ${path} has version ${model.version}, not the registered ${version.version} (the file changed after registration). Fix: restore the registered file, or register the new one and promote it`,
      { code: 'MODEL_FILE' },
    );
  }
  return model;
}
