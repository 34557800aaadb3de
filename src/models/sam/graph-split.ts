/**
 * Splits a SAM decoder graph into an image part and a prompt part. With no mask input (every
 * point prompt of segment-everything), a large share of the decoder depends only on the image
 * embedding: the dense no-mask embedding, the mask-downscaling convolutions the export runs
 * anyway, the flatten/transpose of the image tokens, and the first layer's key, value and query
 * projections of the image tokens. The image part computes those tensors once per image; the
 * prompt part takes them as inputs and runs only what depends on the prompt. Constants copied to
 * the prompt batch's size (the positional encoding per prompt) are computed there too. Both
 * parts are the original nodes, unchanged, so the prompt part computes the same values as the
 * whole graph.
 */
import * as onnxProto from 'onnx-proto';
import type { Backend, ModelSession, TensorData } from '../../backends/types.js';
import { SalipError } from '../../core/errors.js';

// onnx-proto is CommonJS; see graph-edit.ts for why both export shapes are accepted.
const onnx: typeof onnxProto.onnx =
  (onnxProto as { onnx?: typeof onnxProto.onnx }).onnx ??
  (onnxProto as unknown as { default: { onnx: typeof onnxProto.onnx } }).default.onnx;

type NodeProto = onnxProto.onnx.INodeProto;
type ModelProto = onnxProto.onnx.ModelProto;

/** Decoder inputs whose values are fixed for a whole segment-everything run on one image. */
export const IMAGE_INPUTS: readonly string[] = ['image_embeddings', 'mask_input', 'has_mask_input'];

/**
 * Ops whose output SHAPE depends on the value of an input other than the first (shape tensors,
 * repeats, slice bounds, ...) or on the data itself. A prompt-dependent value there would make
 * shapes prompt-dependent, and a Shape of such a tensor could not be computed once per image.
 */
const VALUE_SHAPED_OPS = new Set([
  'Reshape', 'Expand', 'Tile', 'ConstantOfShape', 'Range', 'Slice', 'OneHot', 'Resize', 'Upsample', 'NonZero',
  'TopK', 'Pad', 'Compress', 'Unique', 'Squeeze', 'Unsqueeze', 'Split', 'ReduceSum', 'ReduceMean', 'ReduceMax',
  'ReduceMin', 'ReduceProd', 'ReduceL2', 'CenterCropPad', 'Col2Im', 'StringSplit', 'If', 'Loop', 'Scan',
]);

/** Ops that copy a constant into a prompt-sized tensor: computed once per image, not per prompt. */
const CONSTANT_COPY_OPS = new Set(['Tile', 'Expand', 'Transpose']);

/** Where a tensor's value comes from: constants/shapes only, the image inputs, or the prompt. */
const enum Source {
  Constant = 0,
  Image = 1,
  Prompt = 2,
}

export interface DecoderSplit {
  /** The image part: the decoder's inputs it needs -> the boundary tensors. */
  readonly imageBytes: Uint8Array;
  /** Inputs of the image part (all graph inputs it reaches; prompt inputs only for shapes). */
  readonly imageInputs: string[];
  /** Tensors the image part computes and the prompt part takes as inputs. */
  readonly boundary: string[];
  /** Builds the prompt part once the boundary element types are known (from the image session). */
  promptBytes(boundaryTypes: ReadonlyMap<string, number>): Uint8Array;
  /** Graph inputs the prompt part reads (besides the boundary tensors). */
  readonly promptInputs: string[];
}

function splitFailed(message: string): SalipError {
  return new SalipError('GRAPH_EDIT_FAILED', `splitDecoder: ${message}`);
}

/** Every tensor name a node reads, subgraph outer-scope reads included. */
function reads(node: NodeProto): string[] {
  const names: string[] = [];
  const visit = (n: NodeProto) => {
    for (const name of n.input ?? []) if (name) names.push(name);
    for (const attr of n.attribute ?? []) for (const g of [attr.g, ...(attr.graphs ?? [])]) for (const inner of g?.node ?? []) visit(inner);
  };
  visit(node);
  return names;
}

/** Classifies every tensor by what its value depends on, and whether its shape depends on prompt values. */
function classify(model: ModelProto): { source: Map<string, Source>; producers: Map<string, number> } {
  const graph = model.graph!;
  const source = new Map<string, Source>();
  const promptShaped = new Set<string>();
  for (const init of graph.initializer ?? []) source.set(init.name ?? '', Source.Constant);
  for (const input of graph.input ?? []) {
    const name = input.name ?? '';
    if (source.has(name)) continue; // an initializer listed as an input keeps its default
    source.set(name, IMAGE_INPUTS.includes(name) ? Source.Image : Source.Prompt);
  }
  const producers = new Map<string, number>();
  (graph.node ?? []).forEach((node, index) => {
    const inputs = reads(node);
    const op = node.opType ?? '';
    let out: Source;
    let shapedByPrompt = inputs.some((name) => promptShaped.has(name));
    if (op === 'Shape' || op === 'Size') {
      // A shape is known from the tensor's dims alone, unless prompt values decided those dims.
      out = shapedByPrompt ? Source.Prompt : Source.Constant;
    } else {
      out = Source.Constant;
      for (const name of inputs) out = Math.max(out, source.get(name) ?? Source.Constant);
      if (VALUE_SHAPED_OPS.has(op) && inputs.slice(op === 'If' ? 0 : 1).some((name) => source.get(name) === Source.Prompt)) {
        shapedByPrompt = true;
      }
    }
    for (const name of node.output ?? []) {
      if (!name) continue;
      source.set(name, out);
      producers.set(name, index);
      if (shapedByPrompt) promptShaped.add(name);
    }
  });
  return { source, producers };
}

/** Indices of the nodes needed for `targets`, walking back and stopping at `stopAt` tensors. */
function closure(nodes: NodeProto[], producers: Map<string, number>, targets: Iterable<string>, stopAt: (name: string) => boolean): Set<number> {
  const needed = new Set<number>();
  const stack = [...targets];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    if (stopAt(name)) continue;
    const index = producers.get(name);
    if (index === undefined || needed.has(index)) continue;
    needed.add(index);
    for (const input of reads(nodes[index])) stack.push(input);
  }
  return needed;
}

/** A copy of `model` with the given nodes, inputs and outputs; initializers pruned to those read. */
function subModel(
  model: ModelProto,
  nodeIndices: Set<number>,
  inputs: onnxProto.onnx.IValueInfoProto[],
  outputs: onnxProto.onnx.IValueInfoProto[],
): Uint8Array {
  const graph = model.graph!;
  const nodes = (graph.node ?? []).filter((_, i) => nodeIndices.has(i));
  const read = new Set<string>();
  for (const node of nodes) for (const name of reads(node)) read.add(name);
  for (const o of outputs) read.add(o.name ?? '');
  const sub = onnx.ModelProto.create({
    irVersion: model.irVersion,
    opsetImport: model.opsetImport,
    producerName: 'salip graph-split',
    graph: onnx.GraphProto.create({
      name: `${graph.name ?? 'decoder'}_part`,
      node: nodes,
      initializer: (graph.initializer ?? []).filter((t) => read.has(t.name ?? '')),
      input: inputs,
      output: outputs,
    }),
  });
  return onnx.ModelProto.encode(sub).finish();
}

/**
 * Splits a decoder into the image part and the prompt part for the given graph outputs (the
 * ones a caller fetches). GRAPH_EDIT_FAILED when nothing in the graph depends on the image
 * inputs alone (no gain) or an output does not exist.
 */
export function splitDecoder(modelBytes: Uint8Array, outputs: readonly string[]): DecoderSplit {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(modelBytes);
  } catch (error) {
    throw new SalipError('DECODE_FAILED', `splitDecoder: the decoder bytes are not a readable ONNX model: ${(error as Error).message}`, { cause: error });
  }
  const graph = model.graph;
  if (!graph?.node?.length) throw new SalipError('DECODE_FAILED', 'splitDecoder: the decoder bytes hold no ONNX graph');
  const graphOutputs = new Map((graph.output ?? []).map((o) => [o.name ?? '', o]));
  for (const name of outputs) {
    if (!graphOutputs.has(name)) throw splitFailed(`output "${name}" is not an output of the graph (outputs: ${[...graphOutputs.keys()].join(', ')})`);
  }
  const nodes = graph.node;
  const { source, producers } = classify(model);
  const graphInputs = new Map((graph.input ?? []).map((i) => [i.name ?? '', i]));
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  // Tensors the prompt part need not compute: those of the image inputs alone, and the copies
  // of constants sized by the prompt batch (the dense positional encoding tiled per prompt and
  // transposed to tokens: a 4 MB transpose per call on MobileSAM, 1.03x per call when moved).
  const isComputedImage = (name: string) => {
    const producer = producers.get(name);
    if (producer === undefined) return false;
    const from = source.get(name);
    return from === Source.Image || (from === Source.Constant && CONSTANT_COPY_OPS.has(nodes[producer].opType ?? ''));
  };

  // Prompt part: back from the outputs, stopping at tensors computed from the image alone.
  const boundarySet = new Set<string>();
  const promptNodes = closure(nodes, producers, outputs, (name) => {
    if (isComputedImage(name)) {
      boundarySet.add(name);
      return true;
    }
    return false;
  });
  const boundary = [...boundarySet].sort();
  if (boundary.length === 0) throw splitFailed('no tensor of the graph depends on the image inputs alone; nothing to compute once per image');
  const imageNodes = closure(nodes, producers, boundary, () => false);

  const inputsRead = (indices: Set<number>, extra: Iterable<string> = []): string[] => {
    const read = new Set<string>(extra);
    for (const i of indices) for (const name of reads(nodes[i])) read.add(name);
    return [...graphInputs.keys()].filter((name) => read.has(name) && !initializers.has(name));
  };
  const imageInputs = inputsRead(imageNodes);
  const promptInputs = inputsRead(promptNodes, outputs);
  const imageBytes = subModel(
    model,
    imageNodes,
    imageInputs.map((name) => graphInputs.get(name)!),
    // Output types are left to the runtime's inference; the caller reads them from the session.
    boundary.map((name) => onnx.ValueInfoProto.create({ name })),
  );
  return {
    imageBytes,
    imageInputs,
    boundary,
    promptInputs,
    promptBytes(boundaryTypes) {
      const boundaryInputs = boundary.map((name) => {
        const elemType = boundaryTypes.get(name);
        if (elemType === undefined) throw splitFailed(`no element type known for boundary tensor "${name}"`);
        return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType } } });
      });
      return subModel(
        model,
        promptNodes,
        [...promptInputs.map((name) => graphInputs.get(name)!), ...boundaryInputs],
        outputs.map((name) => graphOutputs.get(name)!),
      );
    },
  };
}

/** ONNX TensorProto element types of the tensor types salip exchanges. */
const ELEMENT_TYPE_CODES: Readonly<Record<string, number>> = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float16: 10 };

/** The two sessions of a split decoder and the image part's output for the last image. */
export interface SplitDecoderRunner {
  /** Graph inputs whose data identity keys the cached image-part tensors. */
  readonly imageInputs: readonly string[];
  /**
   * Runs the prompt part, computing the image part first unless the last call had the same
   * image inputs (same data objects) and the same input dims.
   */
  run(feeds: Record<string, TensorData>, outputs: readonly string[]): Promise<Record<string, TensorData>>;
  dispose(): Promise<void>;
}

/** Loads both parts of a split decoder; `outputs` are the graph outputs the prompt part keeps. */
export async function loadSplitDecoder(
  backend: Backend,
  decoderBytes: Uint8Array,
  outputs: readonly string[],
  options: { intraOpThreads?: number; label: string },
): Promise<SplitDecoderRunner> {
  const split = splitDecoder(decoderBytes, outputs);
  const imageSession = await backend.loadModel(split.imageBytes, { intraOpThreads: options.intraOpThreads, label: `${options.label} (image part)` });
  let promptSession: ModelSession;
  try {
    const types = new Map<string, number>();
    for (const info of imageSession.outputs) {
      const code = ELEMENT_TYPE_CODES[info.type];
      if (code !== undefined) types.set(info.name, code);
    }
    promptSession = await backend.loadModel(split.promptBytes(types), { intraOpThreads: options.intraOpThreads, label: `${options.label} (prompt part)` });
  } catch (error) {
    await imageSession.dispose();
    throw error;
  }
  const valueInputs = split.imageInputs.filter((name) => IMAGE_INPUTS.includes(name));
  let cached: { data: unknown[]; dims: string; tensors: Record<string, TensorData> } | undefined;
  const pick = (feeds: Record<string, TensorData>, names: readonly string[]) => Object.fromEntries(names.map((name) => [name, feeds[name]]));
  return {
    imageInputs: valueInputs,
    async run(feeds, wanted) {
      const data = valueInputs.map((name) => feeds[name]?.data);
      // Prompt inputs reach the image part only through their shapes (see classify).
      const dims = split.imageInputs.map((name) => feeds[name]?.dims.join(',')).join(';');
      if (!cached || cached.dims !== dims || cached.data.some((d, i) => d !== data[i])) {
        cached = undefined;
        const tensors = await imageSession.run(pick(feeds, split.imageInputs), split.boundary);
        cached = { data, dims, tensors };
      }
      return promptSession.run({ ...pick(feeds, split.promptInputs), ...cached.tensors }, wanted);
    },
    async dispose() {
      cached = undefined;
      await Promise.all([imageSession.dispose(), promptSession.dispose()]);
    },
  };
}
