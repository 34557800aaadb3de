/**
 * Prompted SAM: one mask per prompt (box or points), plus their union. Used by the refine stage
 * (boxes of retrieved candidates), by the GT-box baseline, and directly by users.
 */
import { SalipError, describeValue } from '../../core/errors.js';
import type { Ellipse } from '../../core/ellipse.js';
import { createThresholdUpscaler, upscalerGeometry, type ThresholdUpscaler } from '../../core/everything/index.js';
import { assertRgbImage } from '../../core/image.js';
import { maskUnion, createMask } from '../../core/mask.js';
import type { BinaryMask, BoxXYXY, Point, RgbImage } from '../../core/types.js';
import { checkSamPrompt } from '../../models/sam/prompt-checks.js';
import type { SamImageEmbedding, SamModel, SamPrompt } from '../types.js';
import { throwIfAborted, type StageControl } from './options.js';

export interface PromptedOptions extends StageControl {
  /** Embedding of `image` when already computed (saves an encoder pass). */
  embedding?: SamImageEmbedding;
  /** Logit threshold for foreground (SAM: 0). */
  maskThreshold?: number;
  /**
   * Size of the returned masks; defaults to the image size. Logits are upscaled straight to this
   * size, so a mask computed on a downsized working image can be returned at the original size.
   */
  outputWidth?: number;
  outputHeight?: number;
}

export interface PromptedMask {
  readonly prompt: SamPrompt;
  readonly mask: BinaryMask;
  readonly predictedIou: number;
  /** SAM stability score of the mask (logit offset 1), a label-free quality signal. */
  readonly stabilityScore: number;
  /** The ellipse the mask was replaced by (refine.fitEllipse), in the mask's pixel coordinates. */
  readonly ellipse?: Ellipse;
}

export interface PromptedResult {
  /** One mask per prompt, in prompt order. */
  readonly masks: PromptedMask[];
  /** Union of all masks (empty mask when there were no prompts). */
  readonly union: BinaryMask;
  readonly embedding: SamImageEmbedding;
}

/** Embeds the image unless a matching embedding was given. */
export async function embeddingFor(
  sam: SamModel,
  image: RgbImage,
  embedding: SamImageEmbedding | undefined,
  control: StageControl = {},
): Promise<SamImageEmbedding> {
  if (embedding) {
    const t = embedding.transform;
    if (t.imageWidth !== image.width || t.imageHeight !== image.height) {
      throw new SalipError(
        'SIZE_MISMATCH',
        `embedding was made for a ${t.imageWidth}x${t.imageHeight} image, not this ${image.width}x${image.height} image`,
      );
    }
    return embedding;
  }
  throwIfAborted(control.signal, 'SAM encoder');
  return sam.embed(image, { signal: control.signal });
}

/** Runs SAM once per prompt (single-mask output) and returns the masks and their union. */
export async function segmentWithPrompts(
  sam: SamModel,
  image: RgbImage,
  prompts: readonly SamPrompt[],
  options: PromptedOptions = {},
): Promise<PromptedResult> {
  checkPromptedInputs(sam, image, prompts, options);
  const outWidth = options.outputWidth ?? image.width;
  const outHeight = options.outputHeight ?? image.height;
  const embedding = await embeddingFor(sam, image, options.embedding, options);
  const t = embedding.transform;
  const threshold = options.maskThreshold ?? 0;
  // Thresholds and scores stability straight from the low-res logits, deciding exactly as
  // thresholding the upscaled logits would, without making them (core/everything/upscale.ts).
  let upscale: ThresholdUpscaler | undefined;
  const masks: PromptedMask[] = [];
  for (let i = 0; i < prompts.length; i++) {
    throwIfAborted(options.signal, 'prompted segmentation');
    const result = await sam.decode(embedding, prompts[i], { multimask: false });
    upscale ??= createThresholdUpscaler(upscalerGeometry(result.lowResSize, t, outWidth, outHeight));
    const mask = createMask(outWidth, outHeight);
    const cut = upscale(result.lowResLogits[0], threshold, 1, mask.data);
    masks.push({
      prompt: prompts[i],
      mask,
      predictedIou: result.iouPredictions[0],
      stabilityScore: cut.stability,
    });
    options.onProgress?.({ stage: 'prompted', done: i + 1, total: prompts.length });
  }
  const union = masks.length > 0 ? maskUnion(masks.map((m) => m.mask)) : createMask(outWidth, outHeight);
  return { masks, union, embedding };
}

/**
 * Refuses bad inputs before the encoder runs: a malformed image, a prompt list that is not an
 * array, any prompt that is not finite, inverted or inside the image, a mask threshold that is
 * not finite, and output sizes that are not positive integers.
 */
function checkPromptedInputs(sam: SamModel, image: RgbImage, prompts: readonly SamPrompt[], options: PromptedOptions): void {
  if (options === null || typeof options !== 'object') {
    throw new SalipError('INVALID_ARGUMENT', `prompted segmentation options: expected an object, got ${describeValue(options)}`);
  }
  assertRgbImage(image, 'prompted segmentation image');
  if (!Array.isArray(prompts)) {
    throw new SalipError('INVALID_ARGUMENT', `prompts: expected an array of prompts ({ points?, box? }), got ${describeValue(prompts)}`);
  }
  const supportsPoints = sam?.info?.supportsPoints !== false;
  prompts.forEach((prompt, i) => checkSamPrompt(prompt, image.width, image.height, supportsPoints, `prompts[${i}]`));
  if (options.maskThreshold !== undefined && !(typeof options.maskThreshold === 'number' && Number.isFinite(options.maskThreshold))) {
    throw new SalipError('INVALID_ARGUMENT', `maskThreshold: expected a finite number, got ${describeValue(options.maskThreshold)}`);
  }
  for (const key of ['outputWidth', 'outputHeight'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new SalipError('INVALID_ARGUMENT', `${key}: expected a positive integer, got ${describeValue(value)}`);
    }
  }
}

/** One mask per box (XYXY, image pixels) plus their union. */
export function segmentWithBoxes(
  sam: SamModel,
  image: RgbImage,
  boxes: readonly BoxXYXY[],
  options: PromptedOptions = {},
): Promise<PromptedResult> {
  if (!Array.isArray(boxes)) {
    return Promise.reject(new SalipError('INVALID_ARGUMENT', `boxes: expected an array of [x0, y0, x1, y1] boxes, got ${describeValue(boxes)}`));
  }
  return segmentWithPrompts(
    sam,
    image,
    boxes.map((box) => ({ box })),
    options,
  );
}

/** One mask per point (foreground unless label 0) plus their union. */
export function segmentWithPoints(
  sam: SamModel,
  image: RgbImage,
  points: ReadonlyArray<Point & { label?: 0 | 1 }>,
  options: PromptedOptions = {},
): Promise<PromptedResult> {
  if (!Array.isArray(points)) {
    return Promise.reject(new SalipError('INVALID_ARGUMENT', `points: expected an array of { x, y, label? }, got ${describeValue(points)}`));
  }
  return segmentWithPrompts(
    sam,
    image,
    points.map((p) => ({ points: [{ x: p?.x, y: p?.y, label: p?.label ?? 1 }] })),
    options,
  );
}
