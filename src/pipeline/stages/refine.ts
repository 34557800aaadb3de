/**
 * Stage 4 of SaLIP: prompt SAM with the box of each retrieved candidate (single-mask output),
 * threshold at 0 and take the union per class (the two lungs become one lung mask).
 */
import { boxXywhToXyxy } from '../../core/mask.js';
import type { BinaryMask, RgbImage } from '../../core/types.js';
import type { SamModel } from '../types.js';
import { embeddingFor, segmentWithBoxes, type PromptedMask, type PromptedOptions } from './prompted.js';
import type { RetrievedCandidate } from './retrieve.js';

export interface RefinedClass {
  /** Union of the refined masks of the class. */
  readonly mask: BinaryMask;
  /** One refined mask per chosen candidate, in rank order. */
  readonly parts: PromptedMask[];
}

/** Refines every class's chosen candidates with box prompts. */
export async function refine(
  sam: SamModel,
  image: RgbImage,
  chosen: Readonly<Record<string, readonly RetrievedCandidate[]>>,
  options: PromptedOptions = {},
): Promise<Record<string, RefinedClass>> {
  const embedding = await embeddingFor(sam, image, options.embedding, options);
  const out: Record<string, RefinedClass> = {};
  for (const [name, candidates] of Object.entries(chosen)) {
    const boxes = candidates.map((c) => boxXywhToXyxy(c.record.bbox));
    const result = await segmentWithBoxes(sam, image, boxes, { ...options, embedding });
    out[name] = { mask: result.union, parts: result.masks };
  }
  return out;
}
