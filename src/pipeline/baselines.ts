/**
 * Evaluation baselines of the paper, each a plain function:
 * - un-prompted SAM: the decoder given no point and no box (only the padding point), taking its
 *   highest-scoring mask (our reading of the paper's "un-prompted SAM");
 * - GT-box SAM: prompted with the box of each connected component of the ground truth (upper
 *   bound of the refine stage);
 * - oracle retrieval: the candidates with the best Dice against the ground truth, top-k, then
 *   refined (the bound of the retrieval stage).
 */
import { createLogitUpscaler, upscalerGeometry } from '../core/everything/index.js';
import { componentBoxes, decodeRle, maskDice, maskFromLogits, maskUnion, createMask } from '../core/mask.js';
import { SalipError } from '../core/errors.js';
import type { BinaryMask, BoxXYXY, RgbImage } from '../core/types.js';
import { embeddingFor, segmentWithBoxes, type PromptedOptions, type PromptedResult } from './stages/prompted.js';
import { filterCandidates, type AreaFilterOptions, type RetrievedCandidate } from './stages/retrieve.js';
import { finishPart, partAtSize, partFinishing, refine, refineBox, resolveRefineSettings, type RefineOptions } from './stages/refine.js';
import { classPrior, priorPrompts } from './stages/proposals.js';
import type { ClassSpec, Exemplar } from './scorers.js';
import type { MaskRecord, SamImageEmbedding, SamModel } from './types.js';

/** Un-prompted SAM: padding point only; the mask with the highest predicted IoU. */
export async function unpromptedSam(
  sam: SamModel,
  image: RgbImage,
  options: PromptedOptions = {},
): Promise<{ mask: BinaryMask; predictedIou: number; embedding: SamImageEmbedding }> {
  const embedding = await embeddingFor(sam, image, options.embedding, options);
  const result = await sam.decode(embedding, { points: [] }, { multimask: sam.info.supportsMultimask });
  let best = 0;
  for (let i = 1; i < result.iouPredictions.length; i++) if (result.iouPredictions[i] > result.iouPredictions[best]) best = i;
  const t = embedding.transform;
  const outWidth = options.outputWidth ?? image.width;
  const outHeight = options.outputHeight ?? image.height;
  const logits = createLogitUpscaler(upscalerGeometry(result.lowResSize, t, outWidth, outHeight))(result.lowResLogits[best]);
  return { mask: maskFromLogits(logits, outWidth, outHeight, options.maskThreshold ?? 0), predictedIou: result.iouPredictions[best], embedding };
}

/** SAM prompted with one box per connected component of the ground truth (8-connectivity). */
export async function gtBoxSam(sam: SamModel, image: RgbImage, groundTruth: BinaryMask, options: PromptedOptions = {}): Promise<PromptedResult> {
  assertSameSize(image, groundTruth, 'gtBoxSam');
  const boxes = componentBoxes(groundTruth, 8);
  return segmentWithBoxes(sam, image, boxes, options);
}

/** Ranks filtered candidates by Dice against the ground truth and refines the top-k (`exemplars`: the class's, for refine.peelSurroundings). */
export async function oracleRetrieval(
  sam: SamModel,
  image: RgbImage,
  pool: readonly MaskRecord[],
  groundTruth: BinaryMask,
  options: Omit<RefineOptions, 'exemplars'> & AreaFilterOptions & { topK?: number; exemplars?: readonly Exemplar[] } = {},
): Promise<{ mask: BinaryMask; chosen: RetrievedCandidate[] }> {
  assertSameSize(image, groundTruth, 'oracleRetrieval');
  const filtered = filterCandidates(pool, image.width * image.height, options);
  const dices = filtered.kept.map((r) => maskDice(decodeRle(r.segmentation), groundTruth));
  const order = dices.map((_, i) => i).sort((a, b) => dices[b] - dices[a] || a - b);
  const k = options.topK ?? 1;
  const chosen: RetrievedCandidate[] = order.slice(0, k).map((index, rank) => ({
    index,
    record: filtered.kept[index],
    score: dices[index],
    rank,
    margin: dices[index] - (order.length > k ? dices[order[k]] : NaN),
  }));
  if (chosen.length === 0) return { mask: createMask(options.outputWidth ?? image.width, options.outputHeight ?? image.height), chosen };
  const refined = await refine(sam, image, { oracle: chosen }, { ...options, exemplars: { oracle: options.exemplars } });
  return { mask: refined.oracle.mask, chosen };
}

/**
 * The exemplar-box baseline: SAM prompted with the exemplars' mean box of each part (normalised
 * coordinates scaled to the image), refined as the cascade refines (`iterations`, clean-up), the
 * parts united. No segment-everything, no scorer: the trivial prior a cascade must beat.
 */
export async function exemplarBoxSam(
  sam: SamModel,
  image: RgbImage,
  cls: ClassSpec,
  options: RefineOptions = {},
): Promise<{ mask: BinaryMask; boxes: BoxXYXY[] }> {
  const prior = classPrior(cls);
  if (!prior) throw new SalipError('INVALID_TASK', `exemplarBoxSam: class '${cls.name}' has no exemplars to take a box from`);
  const settings = resolveRefineSettings(options);
  const embedding = await embeddingFor(sam, image, options.embedding, options);
  const outWidth = options.outputWidth ?? image.width;
  const outHeight = options.outputHeight ?? image.height;
  const boxes = priorPrompts(prior, image.width, image.height, false).map((p) => p.prompt.box!);
  const masks: BinaryMask[] = [];
  const finishing = partFinishing(image, settings, cls.exemplars);
  for (const box of boxes) {
    const part = await refineBox(sam, embedding, box, settings, options.signal);
    masks.push(finishPart(partAtSize(part, embedding, outWidth, outHeight, settings), part.working, finishing, settings).mask);
  }
  return { mask: maskUnion(masks), boxes };
}

function assertSameSize(image: RgbImage, mask: BinaryMask, what: string): void {
  if (image.width !== mask.width || image.height !== mask.height) {
    throw new SalipError('SIZE_MISMATCH', `${what}: ground-truth mask is ${mask.width}x${mask.height} but the image is ${image.width}x${image.height}`);
  }
}
