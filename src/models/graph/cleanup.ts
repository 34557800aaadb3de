/**
 * Decoder graph clean-up that is ours to do. A Meta-style SAM decoder takes N prompt points
 * ([1, N, 2]) with N free, so ~150 nodes of shape arithmetic (Shape/Gather/Unsqueeze/Concat on
 * the token count 5 + N) run on every call, and ONNX Runtime cannot fuse across them (LayerNorm
 * after an Add stays unfused). Segment-everything and box prompts always feed N = 2 (a point
 * plus Meta's padding point, or a box's two corners), so a copy of the decoder specialised to
 * N = 2 lets ONNX Runtime fold all of that arithmetic at load time: on MobileSAM's decoder 439
 * nodes become 289 after its optimiser, with the same logits (max difference 7e-5).
 */
import { SalipError } from '../../core/errors.js';
import { decodeOnnx, encodeOnnx, onnx } from './onnx.js';

/** The point count segment-everything and box prompts feed (see the file comment). */
export const EVERYTHING_POINT_COUNT = 2;

/**
 * Fixes the point dimension of point_coords [1, N, 2] and point_labels [1, N] to `count`.
 * Intermediate value infos are dropped so ONNX Runtime infers every shape anew. GRAPH_EDIT_FAILED
 * when the inputs are missing or declare another fixed N.
 */
export function specializePointCount(modelBytes: Uint8Array, count: number = EVERYTHING_POINT_COUNT): Uint8Array {
  if (!Number.isInteger(count) || count < 1) throw new SalipError('INVALID_ARGUMENT', `specializePointCount: count: expected a positive integer, got ${String(count)}`);
  const model = decodeOnnx(modelBytes, 'specializePointCount');
  const graph = model.graph!;
  for (const [name, rank] of [['point_coords', 3], ['point_labels', 2]] as const) {
    const input = (graph.input ?? []).find((i) => i.name === name);
    const dims = input?.type?.tensorType?.shape?.dim;
    if (!input || !dims || dims.length !== rank) {
      throw new SalipError('GRAPH_EDIT_FAILED', `specializePointCount: the decoder has no input "${name}" of rank ${rank} (a Meta-style decoder has point_coords [1, N, 2] and point_labels [1, N])`);
    }
    const n = dims[1].dimValue;
    if (n !== undefined && n !== null && Number(n) > 0 && Number(n) !== count) {
      throw new SalipError('GRAPH_EDIT_FAILED', `specializePointCount: input "${name}" has a fixed point count ${Number(n)}, not ${count}`);
    }
    dims[1] = onnx.TensorShapeProto.Dimension.create({ dimValue: count });
  }
  graph.valueInfo = [];
  return encodeOnnx(model);
}
