/**
 * What segment-everything's per-point work hands back: kept candidates in the crop frame. Shared
 * by the exact and the fast modes (crop-prompter.ts, everything-fast.ts).
 */
import type { BoxXYXY, CocoRle } from '../../core/types.js';

/** One kept candidate inside a crop, before uncropping; the mask stays RLE (crop frame). */
export interface CropCandidate {
  rle: CocoRle;
  area: number;
  box: BoxXYXY; // inclusive, crop frame
  predictedIou: number;
  stabilityScore: number;
  point: [number, number]; // crop frame
  maskIndex: number;
}

/** Prompts one point of a crop (crop-frame pixels) and returns its candidates that pass every filter. */
export type CropPrompter = (px: number, py: number) => Promise<CropCandidate[]>;
