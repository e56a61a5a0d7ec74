import { DecodeError } from '../core/errors.ts';
import { ProtoReader, WireType } from './onnx-protobuf.ts';

/**
 * Reads ModelProto.metadata_props (field 14) straight from the file's bytes: onnxruntime-node
 * does not expose model metadata, and the engine needs the feature names at load time.
 */

/** Metadata key under which Tributary stores the model's feature names, as a JSON array of strings. */
export const FEATURES_METADATA_KEY = 'features';

const METADATA_PROPS_FIELD = 14;

/** The model's metadata_props; throws DecodeError (ONNX_FILE) if the bytes are not a well-formed protobuf message. */
export function readOnnxMetadata(model: Uint8Array): Map<string, string> {
  const metadata = new Map<string, string>();
  const reader = new ProtoReader(model);
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    if (field === METADATA_PROPS_FIELD && wireType === WireType.LengthDelimited) {
      const [key, value] = readEntry(reader.lengthDelimited());
      metadata.set(key, value);
    } else {
      reader.skip(wireType);
    }
  }
  return metadata;
}

/** The feature names stored by Tributary's exporters; undefined when absent. Throws DecodeError (ONNX_FILE) if malformed. */
export function featureNamesFromMetadata(metadata: ReadonlyMap<string, string>): string[] | undefined {
  const text = metadata.get(FEATURES_METADATA_KEY);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DecodeError(`metadata "${FEATURES_METADATA_KEY}" is not JSON: ${text.slice(0, 80)}`, { code: 'ONNX_FILE' });
  }
  if (!Array.isArray(parsed) || !parsed.every((name) => typeof name === 'string')) {
    throw new DecodeError(`metadata "${FEATURES_METADATA_KEY}" is not a JSON array of strings`, { code: 'ONNX_FILE' });
  }
  return parsed;
}

/** StringStringEntryProto: key (1), value (2). */
function readEntry(bytes: Uint8Array): [string, string] {
  const reader = new ProtoReader(bytes);
  let key = '';
  let value = '';
  while (!reader.done) {
    const { field, wireType } = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) key = reader.string();
    else if (field === 2 && wireType === WireType.LengthDelimited) value = reader.string();
    else reader.skip(wireType);
  }
  return [key, value];
}
