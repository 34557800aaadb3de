/**
 * How many masks a decoder gives per prompt, where multi-mask output comes from (native outputs,
 * the graph edit of Meta's single-mask exports, or nowhere), and which masks decode returns.
 */
import { SalipError } from '../../core/errors.js';
import type { SamInputTransform } from './types.js';
import { decoderFeeds, readMasks, type DecoderContext } from './decoder-feeds.js';
import { ALL_IOU_OUTPUT, ALL_MASKS_OUTPUT, detectDecoderKind } from './graph-edit.js';

export type SamMultimaskMode = 'auto' | 'native' | 'graph-edit' | 'off';

export const MULTIMASK_MODES: readonly SamMultimaskMode[] = ['auto', 'native', 'graph-edit', 'off'];

/** Masks the decoder computes per prompt: where they come from and how many. */
export interface MultimaskPlan {
  /** Where decode({ multimask: true }) reads its masks ('none': not offered). */
  readonly source: 'native' | 'graph-edit' | 'none';
  readonly note: string;
  /** Outputs holding every mask of a prompt (single-mask token included), when reachable. */
  readonly allMasks: { readonly outputs: [string, string]; readonly count: number } | null;
}

/** Runs the decoder once on zero embeddings with a centre point (a centre box for box-only decoders): how many masks come back? */
async function probeMaskCount(ctx: DecoderContext, outputs: [string, string]): Promise<number> {
  const size = ctx.lowResSize * 4;
  const dims = ctx.embeddingDims;
  const data = new Float32Array(dims[0] * dims[1] * dims[2] * dims[3]);
  const extras = Object.fromEntries(
    ctx.io.contract.extraEmbeddingInputs.map((name) => {
      const declared = ctx.io.inputDims[name] ?? [];
      const fixed = declared.map((d) => (typeof d === 'number' ? d : 1));
      return [name, { data: new Float32Array(fixed.reduce((a, b) => a * b, 1)), dims: fixed }];
    }),
  );
  const t: SamInputTransform = { inputSize: size, scaleX: 1, scaleY: 1, resizedWidth: size, resizedHeight: size, imageWidth: size, imageHeight: size };
  const c = size / 2;
  const prompt = ctx.io.contract.points ? { points: [{ x: c, y: c, label: 1 as const }] } : { box: [c / 2, c / 2, c + c / 2, c + c / 2] as [number, number, number, number] };
  const { feeds } = decoderFeeds(ctx, { data, dims, extras }, [prompt], t);
  const out = await ctx.session.run(feeds, outputs);
  return readMasks(out[outputs[0]], out[outputs[1]], outputs).count;
}

/** Decides where multi-mask output (and the single-mask token) come from, per the configured mode. */
export async function planMultimask(
  ctx: DecoderContext,
  mode: SamMultimaskMode,
  exposed: boolean,
  exposeError: SalipError | undefined,
): Promise<MultimaskPlan> {
  const off = (plan: MultimaskPlan): MultimaskPlan =>
    mode === 'off' ? { ...plan, source: 'none', note: `multimask: 'off' in the config (${plan.note})` } : plan;
  if (exposed) {
    const outputs: [string, string] = [ALL_MASKS_OUTPUT, ALL_IOU_OUTPUT];
    const count = await probeMaskCount(ctx, outputs);
    if (count >= 2) return off({ source: 'graph-edit', note: `graph edit exposed the decoder's ${count} masks per prompt`, allMasks: { outputs, count } });
    const why = `the exposed ${ALL_MASKS_OUTPUT} output holds ${count} mask(s) per prompt, expected several`;
    if (mode === 'graph-edit') throw new SalipError('GRAPH_EDIT_FAILED', `SAM decoder: ${why}`);
    return off({ source: 'none', note: why, allMasks: null });
  }
  const names: [string, string] = [ctx.io.masksOutput, ctx.io.iouOutput];
  const meta = ctx.io.contract.name === 'meta';
  // Meta's decoders declare their mask count on low_res_masks; the other contracts are asked.
  const kind = meta ? detectDecoderKind(ctx.session) : { kind: 'undetermined' as const, reason: `${ctx.io.contract.title} (masks counted by a trial run)` };
  let count = kind.kind === 'native-multimask' ? kind.maskCount : 1;
  if (kind.kind === 'undetermined') count = await probeMaskCount(ctx, names);
  if (count >= 2) {
    const note = `the decoder returns ${count} masks per prompt (${kind.reason})`;
    return off({ source: 'native', note, allMasks: { outputs: names, count } });
  }
  if (mode === 'native') {
    throw new SalipError('MODEL_CONTRACT', `SAM decoder: output "${names[0]}": expected several masks per prompt (multimask: 'native'), found one (${kind.reason})`);
  }
  const why = !meta ? `${ctx.io.contract.title} is not edited` : exposeError ? exposeError.message : 'the decoder was not edited';
  return off({ source: 'none', note: `single-mask decoder (${kind.reason}); graph edit not possible: ${why}`, allMasks: null });
}

/** Mask indices decode returns, per segment-anything's conventions. */
export function selectMasks(count: number, iou: Float32Array, multimask: boolean, pointCount: number, token: boolean): number[] {
  if (count === 1) return [0];
  // With 4 masks, index 0 is the single-mask token and 1..3 the multi-mask outputs.
  const first = count >= 4 ? 1 : 0;
  if (multimask) return Array.from({ length: Math.min(count - first, 3) }, (_, i) => first + i);
  if (token && first === 1) return [0];
  // Single mask from an all-masks decoder: as Meta's SamOnnxModel.select_masks, several points
  // (more than 2.5 including padding) choose mask 0, otherwise the best-IoU multi-mask output.
  if (first === 1 && pointCount > 2.5) return [0];
  let best = first;
  for (let i = first + 1; i < count; i++) if (iou[i] > iou[best]) best = i;
  return [best];
}
