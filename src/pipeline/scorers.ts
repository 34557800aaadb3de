/**
 * Scorers for the retrieval stage: given an image and its candidate masks, a score per (class,
 * candidate). Two kinds: CLIP text (SaLIP's own: visual prompt of each candidate vs a prompt
 * ensemble per class) and exemplar (candidates vs 1-5 example images with masks, compared in
 * SAM's own embedding space, so no second model is needed).
 */
import { SalipError } from '../core/errors.js';
import { decodeRle } from '../core/mask.js';
import { imageCoverage, maskCoverage, pooledFeature, rleCoverage, type EmbeddingGrid } from '../core/pooling.js';
import { renderVisualPrompt, type VisualPromptMode } from '../core/prompts.js';
import { ensembleMean, l2Normalize, scaledCosineScores } from '../core/similarity.js';
import type { BinaryMask, RgbImage } from '../core/types.js';
import type { ClipModel } from './clip.js';
import type { MaskRecord, SamImageEmbedding, SamModel } from './types.js';

/** One class to retrieve: described by text prompts (CLIP) and/or exemplars. */
export interface ClassSpec {
  name: string;
  /** Prompt ensemble for the CLIP text scorer. */
  prompts?: string[];
  /** 1-5 example images with masks for the exemplar scorer. */
  exemplars?: Exemplar[];
  /** Candidates to retrieve for this class (1 for one organ, 2 for the two lungs). */
  topK?: number;
}

/** An example image with the mask of the class in it (same size). */
export interface Exemplar {
  image: RgbImage;
  mask: BinaryMask;
}

export interface ScoreContext {
  image: RgbImage;
  candidates: MaskRecord[];
  classes: ClassSpec[];
  /** The SAM embedding of `image` (required by the exemplar scorer). */
  embedding?: SamImageEmbedding;
  signal?: AbortSignal;
}

export interface ScoreTable {
  classNames: string[];
  candidateCount: number;
  /** Class-major: scores[c * candidateCount + i]; NaN for a candidate that could not be scored. */
  scores: Float32Array;
}

export interface Scorer {
  readonly name: string;
  score(ctx: ScoreContext): Promise<ScoreTable>;
}

function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new SalipError('ABORTED', `${what} was cancelled through its AbortSignal`);
}

function assertContext(ctx: ScoreContext, scorer: string): void {
  if (!ctx || !Array.isArray(ctx.candidates) || !Array.isArray(ctx.classes)) {
    throw new SalipError('INVALID_ARGUMENT', `${scorer} scorer: expected a context with candidates and classes arrays`);
  }
}

export interface ClipTextScorerOptions {
  /** How a candidate is shown to CLIP (default 'crops', SaLIP's default). */
  mode?: VisualPromptMode;
  /** Candidates rendered and embedded per CLIP run (default 16); bounds memory too. */
  batchSize?: number;
}

/**
 * SaLIP's retrieval scorer: each candidate rendered as a visual prompt and embedded with CLIP's
 * image tower; each class's prompt ensemble embedded, averaged (ensembleMean); score = 100 x
 * cosine. Ensemble embeddings are cached by their sentences. A candidate whose visual prompt is
 * empty (zero-area box) scores NaN, which ranks last.
 */
export function createClipTextScorer(clip: ClipModel, options: ClipTextScorerOptions = {}): Scorer {
  const mode = options.mode ?? 'crops';
  const batchSize = options.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new SalipError('INVALID_ARGUMENT', `clip text scorer batchSize: expected a positive integer, got ${String(options.batchSize)}`);
  }
  const ensembles = new Map<string, Promise<Float32Array>>();

  const ensembleEmbedding = (prompts: string[], signal?: AbortSignal): Promise<Float32Array> => {
    const key = JSON.stringify(prompts);
    let cached = ensembles.get(key);
    if (!cached) {
      cached = clip.embedTexts(prompts, { signal }).then((e) => ensembleMean(e.data, e.count, e.dim));
      // A failed or cancelled run must not poison the cache.
      cached.catch(() => ensembles.delete(key));
      ensembles.set(key, cached);
    }
    return cached;
  };

  return {
    name: `clip-text:${mode}`,
    async score(ctx: ScoreContext): Promise<ScoreTable> {
      assertContext(ctx, 'clip text');
      for (const cls of ctx.classes) {
        if (!Array.isArray(cls.prompts) || cls.prompts.length === 0 || cls.prompts.some((p) => typeof p !== 'string')) {
          throw new SalipError('INVALID_TASK', `class '${cls.name}': the CLIP text scorer needs prompts (a non-empty list of sentences)`);
        }
      }
      const n = ctx.candidates.length;
      const nClasses = ctx.classes.length;
      const scores = new Float32Array(nClasses * n).fill(NaN);
      const table = { classNames: ctx.classes.map((c) => c.name), candidateCount: n, scores };
      if (n === 0 || nClasses === 0) return table;

      const classEmbeddings: Float32Array[] = [];
      for (const cls of ctx.classes) classEmbeddings.push(await ensembleEmbedding(cls.prompts!, ctx.signal));
      const dim = classEmbeddings[0].length;
      const classMatrix = new Float32Array(nClasses * dim);
      classEmbeddings.forEach((e, c) => classMatrix.set(e, c * dim));

      for (let start = 0; start < n; start += batchSize) {
        throwIfAborted(ctx.signal, 'CLIP text scoring');
        const end = Math.min(n, start + batchSize);
        const rendered: RgbImage[] = [];
        const index: number[] = [];
        for (let i = start; i < end; i++) {
          const record = ctx.candidates[i];
          const prompt = renderVisualPrompt(ctx.image, decodeRle(record.segmentation), record.bbox, mode);
          if (prompt) {
            rendered.push(prompt);
            index.push(i);
          }
        }
        if (rendered.length === 0) continue;
        const images = await clip.embedImages(rendered, { batchSize, signal: ctx.signal });
        const part = scaledCosineScores(images.data, images.count, classMatrix, nClasses, dim, 100);
        for (let c = 0; c < nClasses; c++) {
          for (let j = 0; j < index.length; j++) scores[c * n + index[j]] = part[c * images.count + j];
        }
      }
      return table;
    },
  };
}

/**
 * How exemplar and candidate features are compared:
 * 'image-mean' (default) subtracts the mean feature of the image each region comes from, so the
 * score measures what sets the region apart from its own image (SAM features share a large common
 * component, which otherwise makes every cosine close to 1); 'none' compares raw pooled features.
 */
export type ExemplarContrast = 'image-mean' | 'none';

export interface ExemplarScorerOptions {
  contrast?: ExemplarContrast;
}

/** The mean feature of the whole image (what 'image-mean' contrast subtracts), or null for 'none'. */
function contrastFeature(embedding: EmbeddingGrid, contrast: ExemplarContrast): Float32Array | null {
  return contrast === 'image-mean' ? pooledFeature(embedding, imageCoverage(embedding)) : null;
}

/** Pooled feature of a region minus its image's mean feature (when given). */
function regionFeature(embedding: EmbeddingGrid, coverage: Float32Array, background: Float32Array | null): Float32Array {
  const feature = pooledFeature(embedding, coverage);
  if (background) for (let k = 0; k < feature.length; k++) feature[k] -= background[k];
  return feature;
}

/**
 * Retrieval by example: each class is described by 1-5 images with masks. Prototype = the
 * normalised mean of the exemplars' normalised mask-pooled SAM features (computed once per
 * exemplar list: one encoder pass per exemplar image). Candidates are pooled from the image's
 * existing embedding (ctx.embedding), so scoring costs no encoder pass. Score = 100 x cosine.
 */
export function createExemplarScorer(sam: SamModel, exemplars: Record<string, Exemplar[]> = {}, options: ExemplarScorerOptions = {}): Scorer {
  const contrast = options.contrast ?? 'image-mean';
  if (contrast !== 'image-mean' && contrast !== 'none') {
    throw new SalipError('INVALID_ARGUMENT', `exemplar scorer contrast: expected 'image-mean' or 'none', got ${JSON.stringify(contrast)}`);
  }
  const prototypes = new WeakMap<Exemplar[], Promise<Float32Array>>();

  const prototypeOf = (className: string, list: Exemplar[], signal?: AbortSignal): Promise<Float32Array> => {
    let cached = prototypes.get(list);
    if (!cached) {
      cached = (async () => {
        let sum: Float64Array | undefined;
        for (const [j, exemplar] of list.entries()) {
          throwIfAborted(signal, 'exemplar prototype');
          if (!exemplar?.image || !exemplar.mask) {
            throw new SalipError('INVALID_TASK', `class '${className}': exemplars[${j}] must have an image and a mask`);
          }
          const { image, mask } = exemplar;
          if (image.width !== mask.width || image.height !== mask.height) {
            throw new SalipError('SIZE_MISMATCH', `class '${className}': exemplars[${j}] mask is ${mask.width} x ${mask.height}, expected the image size ${image.width} x ${image.height}`);
          }
          const embedding = await sam.embed(image, { signal });
          const coverage = maskCoverage(embedding, mask);
          if (!coverage.some((v) => v > 0)) {
            throw new SalipError('INVALID_TASK', `class '${className}': exemplars[${j}] has an empty mask (an exemplar must show the class)`);
          }
          const feature = l2Normalize(regionFeature(embedding, coverage, contrastFeature(embedding, contrast)));
          sum ??= new Float64Array(feature.length);
          for (let k = 0; k < feature.length; k++) sum[k] += feature[k];
        }
        return l2Normalize(Float32Array.from(sum!, (v) => v / list.length));
      })();
      cached.catch(() => prototypes.delete(list));
      prototypes.set(list, cached);
    }
    return cached;
  };

  return {
    name: `exemplar:${contrast}`,
    async score(ctx: ScoreContext): Promise<ScoreTable> {
      assertContext(ctx, 'exemplar');
      const lists = ctx.classes.map((cls) => {
        const list = cls.exemplars && cls.exemplars.length > 0 ? cls.exemplars : exemplars[cls.name];
        if (!Array.isArray(list) || list.length === 0) {
          throw new SalipError('INVALID_TASK', `class '${cls.name}': the exemplar scorer needs 1-5 exemplars (image + mask)`);
        }
        return list;
      });
      const embedding = ctx.embedding;
      if (!embedding) {
        throw new SalipError('INVALID_ARGUMENT', 'exemplar scorer: ctx.embedding (the SAM embedding of ctx.image) is required; candidates are pooled from it');
      }
      const { imageWidth, imageHeight } = embedding.transform;
      if (ctx.image && (ctx.image.width !== imageWidth || ctx.image.height !== imageHeight)) {
        throw new SalipError('SIZE_MISMATCH', `exemplar scorer: ctx.embedding was made for a ${imageWidth} x ${imageHeight} image, ctx.image is ${ctx.image.width} x ${ctx.image.height}`);
      }
      const protos: Float32Array[] = [];
      for (const [c, list] of lists.entries()) protos.push(await prototypeOf(ctx.classes[c].name, list, ctx.signal));
      throwIfAborted(ctx.signal, 'exemplar scoring');
      const n = ctx.candidates.length;
      const dim = embedding.dims[1];
      const features = new Float32Array(n * dim);
      const background = contrastFeature(embedding, contrast);
      ctx.candidates.forEach((record, i) => features.set(regionFeature(embedding, rleCoverage(embedding, record.segmentation), background), i * dim));
      const classMatrix = new Float32Array(protos.length * dim);
      protos.forEach((p, c) => classMatrix.set(p, c * dim));
      return {
        classNames: ctx.classes.map((c) => c.name),
        candidateCount: n,
        scores: scaledCosineScores(features, n, classMatrix, protos.length, dim, 100),
      };
    },
  };
}
