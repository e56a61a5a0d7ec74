import { ProtoWriter } from './onnx-protobuf.ts';

/**
 * Encodes a small ONNX ModelProto from plain descriptions (float tensors only, no node
 * attributes): enough for the linear and MLP models Tributary trains itself. Field numbers are
 * those of onnx.proto (https://github.com/onnx/onnx/blob/main/onnx/onnx.proto).
 */

/** A float32 constant of the graph (weights, means, ...). */
export interface OnnxFloatTensor {
  name: string;
  dims: readonly number[];
  values: ArrayLike<number>;
}

export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
}

/** A float32 graph input or output; a string dimension is symbolic (e.g. 'batch'). */
export interface OnnxFloatValue {
  name: string;
  shape: readonly (number | string)[];
}

export interface OnnxGraphSpec {
  name: string;
  nodes: readonly OnnxNode[];
  initializers: readonly OnnxFloatTensor[];
  inputs: readonly OnnxFloatValue[];
  outputs: readonly OnnxFloatValue[];
}

export interface OnnxModelSpec {
  graph: OnnxGraphSpec;
  producerName: string;
  producerVersion?: string;
  docString?: string;
  /** Key/value pairs stored in ModelProto.metadata_props, readable without running the model. */
  metadata?: Readonly<Record<string, string>>;
  /** Defaults: IR version 8 and opset 13, which onnxruntime 1.x loads. */
  irVersion?: number;
  opsetVersion?: number;
}

const FLOAT = 1; // TensorProto.DataType.FLOAT

export function encodeOnnxModel(spec: OnnxModelSpec): Uint8Array {
  const model = new ProtoWriter();
  model.varint(1, spec.irVersion ?? 8);
  model.string(2, spec.producerName);
  if (spec.producerVersion !== undefined) model.string(3, spec.producerVersion);
  if (spec.docString !== undefined) model.string(6, spec.docString);
  model.message(7, (graph) => writeGraph(graph, spec.graph));
  model.message(8, (opset) => opset.string(1, '').varint(2, spec.opsetVersion ?? 13));
  for (const [key, value] of Object.entries(spec.metadata ?? {})) {
    model.message(14, (entry) => entry.string(1, key).string(2, value));
  }
  return model.finish();
}

function writeGraph(graph: ProtoWriter, spec: OnnxGraphSpec): void {
  for (const node of spec.nodes) graph.message(1, (writer) => writeNode(writer, node));
  graph.string(2, spec.name);
  for (const tensor of spec.initializers) graph.message(5, (writer) => writeTensor(writer, tensor));
  for (const input of spec.inputs) graph.message(11, (writer) => writeValueInfo(writer, input));
  for (const output of spec.outputs) graph.message(12, (writer) => writeValueInfo(writer, output));
}

function writeNode(writer: ProtoWriter, node: OnnxNode): void {
  for (const input of node.inputs) writer.string(1, input);
  for (const output of node.outputs) writer.string(2, output);
  if (node.name !== undefined) writer.string(3, node.name);
  writer.string(4, node.opType);
}

function writeTensor(writer: ProtoWriter, tensor: OnnxFloatTensor): void {
  const expected = tensor.dims.reduce((product, dim) => product * dim, 1);
  if (expected !== tensor.values.length) {
    throw new RangeError(`tensor ${tensor.name} has ${tensor.values.length} values but dims [${tensor.dims.join(', ')}] need ${expected}`);
  }
  // dims is repeated int64; unpacked entries are valid for both proto2 and proto3 readers.
  for (const dim of tensor.dims) writer.varint(1, dim);
  writer.varint(2, FLOAT);
  writer.string(8, tensor.name);
  writer.bytes(9, float32LittleEndian(tensor.values));
}

function writeValueInfo(writer: ProtoWriter, value: OnnxFloatValue): void {
  writer.string(1, value.name);
  writer.message(2, (type) =>
    type.message(1, (tensorType) => {
      tensorType.varint(1, FLOAT);
      tensorType.message(2, (shape) => {
        for (const dim of value.shape) {
          shape.message(1, (dimension) => (typeof dim === 'number' ? dimension.varint(1, dim) : dimension.string(2, dim)));
        }
      });
    }),
  );
}

/** raw_data is little-endian whatever the host's byte order. */
function float32LittleEndian(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return bytes;
}
