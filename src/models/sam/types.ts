/**
 * The SAM adapter contract: what every SAM-family model offers the cascade (embed, decode,
 * optionally decodeBatch) and the plain data it exchanges. Adapters (sam-model.ts, a user's own)
 * implement it; the cascade's stages consume it through src/pipeline/types.ts.
 */
import type { BoxXYXY, RgbImage } from '../../core/types.js';

/**
 * How image pixel coordinates map into the SAM model's square input frame.
 * Keep-aspect presets (SAM, MobileSAM): the image is resized so its longest side is inputSize
 * (rounded sizes resizedWidth x resizedHeight), placed top-left and zero-padded bottom/right;
 * coordinates scale per axis by resized / original size, as segment-anything's apply_coords. Stretch presets (MedSAM): scaleX = inputSize / width,
 * scaleY = inputSize / height, no padding.
 */
export interface SamInputTransform {
  /** Side of the square model input (1024 for SAM/MobileSAM/MedSAM, 256 for LiteMedSAM). */
  readonly inputSize: number;
  readonly scaleX: number;
  readonly scaleY: number;
  /** Size of the image inside the model frame before padding. */
  readonly resizedWidth: number;
  readonly resizedHeight: number;
  /** Size of the original image this transform was made for. */
  readonly imageWidth: number;
  readonly imageHeight: number;
}

/** The SAM image encoder's output for one image, reused by every prompt on that image. */
export interface SamImageEmbedding {
  /** [1, C, h, w] features, C = 256 and h = w = 64 for Meta-style exports. */
  readonly data: Float32Array;
  readonly dims: readonly [number, number, number, number];
  readonly transform: SamInputTransform;
  /**
   * Further encoder outputs the decoder takes besides `data`, by name (SAM 2's
   * high_res_feats_0 / high_res_feats_1); absent for single-output encoders.
   */
  readonly extras?: Readonly<Record<string, { readonly data: Float32Array; readonly dims: readonly number[] }>>;
}

/**
 * A prompt in image pixel coordinates. label 1 = foreground, 0 = background. `{ points: [] }`
 * with no box is the un-prompted query (the decoder sees only the padding point).
 */
export interface SamPrompt {
  readonly points?: ReadonlyArray<{ readonly x: number; readonly y: number; readonly label: 0 | 1 }>;
  readonly box?: BoxXYXY;
  /**
   * Low-res logits of an earlier decode on the same embedding (one of
   * SamDecodeResult.lowResLogits, lowResSize x lowResSize in the model frame), fed as the
   * decoder's `mask_input` with has_mask_input = 1: segment-anything's iterative refinement.
   */
  readonly maskInput?: Float32Array;
}

export interface SamDecodeOptions {
  /**
   * true: return the three multi-mask outputs (masks 1..3 of the decoder, as segment-everything
   * uses). false: the single best mask as the export chooses it (box prompts, refinement).
   */
  readonly multimask: boolean;
}

/** Decoder output: low-resolution logits in the padded model frame (see SamInputTransform). */
export interface SamDecodeResult {
  /** One Float32Array of lowResSize * lowResSize logits per mask (> 0 is foreground). */
  readonly lowResLogits: Float32Array[];
  /** The decoder's predicted IoU, one per mask. */
  readonly iouPredictions: Float32Array;
  /** Side of the low-res mask grid (256 for Meta-style decoders). */
  readonly lowResSize: number;
}

export interface SamModelInfo {
  /** Preset name ('mobilesam', 'sam', 'medsam', 'litemedsam', 'efficientsam', 'edgesam', 'sam2', 'medsam2', 'sammed2d' or 'custom'). */
  readonly preset: string;
  /** Whether decode({ multimask: true }) is possible (natively or through the graph edit). */
  readonly supportsMultimask: boolean;
  /** Whether point prompts are meaningful (MedSAM: boxes only). */
  readonly supportsPoints: boolean;
}

/** A SAM-family model: an image encoder and a prompt decoder. */
export interface SamModel {
  readonly info: SamModelInfo;
  /** Runs the encoder once for an image. */
  embed(image: RgbImage, options?: { signal?: AbortSignal }): Promise<SamImageEmbedding>;
  /** Runs the decoder for one prompt on an embedding. */
  decode(embedding: SamImageEmbedding, prompt: SamPrompt, options: SamDecodeOptions): Promise<SamDecodeResult>;
  /**
   * Optional: decodes one single-point prompt per point in one decoder run (the prompt batch
   * freed by a graph edit). The results equal decode's for each point up to float rounding
   * (5e-5 on the logits). Worth it where a run is cheap to widen (a GPU); on CPU each prompt
   * still runs the two-way transformer over every image token, so batches are slower there.
   */
  decodeBatch?(embedding: SamImageEmbedding, points: NonNullable<SamPrompt['points']>, options: SamDecodeOptions): Promise<SamDecodeResult[]>;
  dispose(): Promise<void>;
}
