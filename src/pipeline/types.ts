/**
 * Contracts between the model adapters and the cascade stages. Plain data only; the SAM
 * adapter contract lives in src/models/sam/types.ts and is re-exported here for the stages.
 */
import type { BoxXYWH, CocoRle } from '../core/types.js';

export type { SamInputTransform, SamImageEmbedding, SamPrompt, SamDecodeOptions, SamDecodeResult, SamModelInfo, SamModel } from '../models/sam/types.js';

/**
 * One candidate of segment-everything, as segment-anything's SamAutomaticMaskGenerator records
 * it (camelCase). `segmentation` is COCO uncompressed RLE (column-major counts).
 */
export interface MaskRecord {
  readonly segmentation: CocoRle;
  readonly area: number;
  /** XYWH of the inclusive XYXY box of the mask, in image pixels. */
  readonly bbox: BoxXYWH;
  readonly predictedIou: number;
  /** The prompt point(s) that produced the mask, in image pixels. */
  readonly pointCoords: Array<[number, number]>;
  readonly stabilityScore: number;
  /** XYWH of the crop the mask came from (the whole image for layer 0). */
  readonly cropBox: BoxXYWH;
  /** Which multi-mask output (0..2 for multi-mask, 0 for single-mask) produced it; with box proposals (boxes-only SAMs), which box scale. */
  readonly maskIndex: number;
  /**
   * What made the candidate: 'grid' (segment-everything), 'exemplar-box' or 'similarity'
   * (stages/proposals.ts), 'refined' (a refinement pass). Absent on records made elsewhere.
   */
  readonly proposer?: string;
}
