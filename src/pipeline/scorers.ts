/**
 * Scorers for the retrieval stage: given an image and its candidate masks, a score per (class,
 * candidate). Two kinds: CLIP text (SaLIP's own: visual prompt of each candidate vs a prompt
 * ensemble per class) and exemplar (candidates vs 1-5 example images with masks, compared in
 * SAM's own embedding space, so no second model is needed).
 */
import { SalipError } from '../core/errors.js';
import { numberOption, throwIfAborted } from './stages/options.js';
import { boxXywhToXyxy, decodeRle } from '../core/mask.js';
import { priorBoxAgreement } from '../core/exemplar-prior.js';
import { shapePriorAgreement } from '../core/shape-prior.js';
import { boundaryAgreement } from '../core/boundary-prior.js';
import { edgeAgreement } from '../core/edge-prior.js';
import { edgeMapOfImage, edgeOfRecord, ellipseOfRecord, exemplarEdgeOf, exemplarEllipseOf, contrastOfRecord, exemplarBoundaryOf, exemplarPriorOf, exemplarShapesOf, luminanceOfImage, recordMask, shapeOfRecord, smallestExemplarPartOf } from './exemplar-cues.js';
import { contextRingCoverage, imageCoverage, maskCoverage, pointWindowFeatures, pooledFeature, rleCoverage, type EmbeddingGrid } from '../core/pooling.js';
import { renderVisualPrompt, type VisualPromptMode } from '../core/prompts.js';
import { cosine, ensembleMean, l2Normalize, scaledCosineScores } from '../core/similarity.js';
import type { BinaryMask, RgbImage } from '../core/types.js';
import type { ClipModel } from '../models/clip/clip.js';
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

/** What pointAffinity needs: the classes and the SAM embedding of the image. */
export interface AffinityContext {
  classes: ClassSpec[];
  embedding: SamImageEmbedding;
  signal?: AbortSignal;
}

export interface Scorer {
  readonly name: string;
  score(ctx: ScoreContext): Promise<ScoreTable>;
  /**
   * Optional: how much the image near each point looks like the classes (the highest over the
   * classes; higher is more alike), one value per point of `points` ([x0, y0, x1, y1, ...] in
   * image pixels). createSalip uses it to guide segment-everything's fast mode, so that the
   * points on the likely target are always prompted. Scorers that cannot say it cheaply leave it
   * out.
   */
  pointAffinity?(ctx: AffinityContext, points: Float32Array): Promise<Float32Array>;
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
 * How exemplar and candidate regions are compared.
 * 'region+context' (default): 100 x the mean of two cosines, the region's pooled feature vs the
 * exemplars' and the pooled feature of its surroundings (a ring of `contextCells` embedding cells)
 * vs the exemplars' surroundings. A part of an organ looks like the organ inside but is
 * surrounded by more organ, so the context term separates whole organs from their parts.
 * 'region': 100 x cosine of the pooled region features only.
 * On 27 fetal-head ultrasound images with 3 exemplars (MobileSAM, 6 x 6 point candidates), the
 * context term raised the share of images whose best candidate has Dice >= 0.5 from ~73 % to
 * ~83 % (mean over 7 exemplar choices); subtracting the image's mean feature instead made it worse.
 */
export type ExemplarSimilarity = 'region+context' | 'region';

/**
 * 'image-mean' (default): the mean feature of the region's own image is subtracted first, so a
 * region is described by how it differs from the rest of its image (the same organ in a
 * brighter or noisier scan then still looks alike). 'none': pooled features as they are.
 * In the cascade on the dev sets (MobileSAM, 16 x 16 points, 3 exemplars, 5 exemplar draws),
 * 'image-mean' raised the fetal-head Dice from 0.68 to 0.75 and left lungs (0.86) and brain (0.86)
 * as they were (bench/study/seeds.ts; docs/results.md).
 */
export type ExemplarContrast = 'none' | 'image-mean';

export interface ExemplarScorerOptions {
  similarity?: ExemplarSimilarity;
  /** Width of the context ring in embedding cells (default 3; 48 px of SAM's 1024 frame). */
  contextCells?: number;
  /**
   * With 'region+context': the context cosine's share of the similarity, 0-1 (default 0.5, the
   * mean of the two cosines); 0 scores the region alone, as 'region' does.
   */
  contextShare?: number;
  contrast?: ExemplarContrast;
  /**
   * Adds this times the candidate's SAM stability score (0-1) to its similarity (100 x cosine),
   * so that between candidates that look alike the one SAM is surer of wins (default 10; 0 turns
   * it off). With MobileSAM on the fetal-head dev set it moved the cascade's mean Dice from 0.75
   * to 0.79 over 5 exemplar draws, a broad optimum from 10 to 20; no change on lungs or brain.
   */
  stabilityWeight?: number;
  /**
   * Adds this times the exemplars' box consistency times the candidate's agreement with their
   * mean box (both 0-1; core/exemplar-prior.ts), so that where the exemplars agree on the
   * organ's place and size (a heart on a radiograph) a candidate there wins over a look-alike
   * elsewhere, and where they do not (fetal heads) the prior fades by itself. Default 0 (off).
   */
  locationWeight?: number;
  /**
   * Adds this times the candidate's shape agreement with the exemplars' parts (0-1; each mask
   * resampled over its own box, core/shape-prior.ts), so that a crescent or a strip loses to the
   * filled outline the exemplars show. Default 0 (off).
   */
  shapeWeight?: number;
  /**
   * Adds this times the agreement of the candidate's outline contrast (inside vs just outside its
   * edge, core/boundary-prior.ts) with the exemplars' (0-1), so that a mask that leaked into the
   * tissue around the organ, or stopped short of its wall, loses to one whose edge lies where the
   * exemplars' edges lie. Default 0 (off).
   */
  boundaryWeight?: number;
  /**
   * Adds this times how much weaker the image's edges under the candidate's outline are than
   * under the exemplars' (log2 of the ratio, clamped to -1..0; core/edge-prior.ts), so that a mask
   * that leaked through a gap in the organ's wall, whose outline then runs through flat tissue,
   * loses to one whose outline follows the wall. Default 0 (off).
   */
  edgeWeight?: number;
  /**
   * Candidates smaller than this fraction of the smallest exemplar part (areas as fractions of
   * their images) lose SMALL_PART_PENALTY points, below any candidate of a plausible size: a
   * speck of speckle or a vessel is never the organ, however alike its few embedding cells look.
   * Default 0 (off).
   */
  minPartRatio?: number;
  /**
   * Subtracts this times how much less the candidate is the ellipse through the stronger half of
   * its outline than the exemplars are (IoU of mask and ellipse, core/ellipse.ts; only a
   * shortfall counts), so that where the exemplars are ellipses on strong edges (a fetal head on
   * its skull) a head that leaked past the skull loses to the tight one. Default 0 (off).
   */
  ellipseWeight?: number;
  /**
   * Applies the ellipse term on an image only when the candidate the other cues rank first falls
   * short of the exemplars' ellipse consistency by more than this (0-1; default 0: always). On
   * images where the best candidate is already as much an ellipse as the exemplars, the term's
   * small differences between tight candidates (the inner or the outer skull outline) are noise;
   * a leak far from an ellipse turns it on.
   */
  ellipseGate?: number;
  /**
   * Subtracts this times how far the candidate's outline edge strength falls below
   * `peerEdgeShare` of the strongest outline among the image's candidates of a plausible size
   * (not under `minPartRatio`): where a leak's outline runs over flat tissue and the tight
   * organ's on its wall, in the same image (a fetal head), while the exemplars' reference outlines
   * are too weak for the edge prior to tell. Default 0 (off).
   */
  peerEdgeWeight?: number;
  /** The share of the image's strongest candidate outline below which `peerEdgeWeight` costs (default 0.6). */
  peerEdgeShare?: number;
}

/** What a candidate under `minPartRatio` loses: the whole range of the similarity term. */
export const SMALL_PART_PENALTY = 100;

/**
 * Raw pooled features of pool records, per embedding and record mask (weakly held): the same
 * pool is often scored more than once (several classes or exemplar sets, refinement re-scoring,
 * evaluate's modes), and pooling, not the cosines, is what costs.
 */
const pooledRecords = new WeakMap<Float32Array, WeakMap<object, Map<number, RegionFeatures>>>();

export { exemplarBoundaryOf, exemplarPriorOf, exemplarShapesOf } from './exemplar-cues.js';

/** Region and context features of one region, both unnormalised. */
interface RegionFeatures {
  region: Float32Array;
  context: Float32Array | null;
}

/**
 * The widest context ring, in embedding cells, shared by a task file's check and a direct call:
 * 16 of the 64 cells a side of SAM's embedding grid, a ring a quarter of the image wide.
 */
export const MAX_CONTEXT_CELLS = 16;

/**
 * Retrieval by example: each class is described by 1-5 images with masks. Prototypes = the
 * normalised mean of the exemplars' normalised mask-pooled SAM features (region, and context when
 * used), computed once per exemplar list: one encoder pass per exemplar image. Candidates are
 * pooled from the image's existing embedding (ctx.embedding), so scoring costs no encoder pass.
 */
export function createExemplarScorer(sam: SamModel, exemplars: Record<string, Exemplar[]> = {}, options: ExemplarScorerOptions = {}): Scorer {
  const similarity = options.similarity ?? 'region+context';
  if (similarity !== 'region+context' && similarity !== 'region') {
    throw new SalipError('INVALID_ARGUMENT', `exemplar scorer similarity: expected 'region+context' or 'region', got ${JSON.stringify(similarity)}`);
  }
  const contextCells = numberOption(options.contextCells, 3, 'exemplar scorer contextCells', { integer: true, min: 1, max: MAX_CONTEXT_CELLS });
  const contrast = options.contrast ?? 'image-mean';
  if (contrast !== 'none' && contrast !== 'image-mean') {
    throw new SalipError('INVALID_ARGUMENT', `exemplar scorer contrast: expected 'none' or 'image-mean', got ${JSON.stringify(contrast)}`);
  }
  const stabilityWeight = scorerNumber(options, 'stabilityWeight', 10);
  const locationWeight = scorerNumber(options, 'locationWeight', 0);
  const shapeWeight = scorerNumber(options, 'shapeWeight', 0);
  const boundaryWeight = scorerNumber(options, 'boundaryWeight', 0);
  const minPartRatio = scorerNumber(options, 'minPartRatio', 0, 1);
  const ellipseWeight = scorerNumber(options, 'ellipseWeight', 0);
  const ellipseGate = scorerNumber(options, 'ellipseGate', 0, 1);
  const contextShare = scorerNumber(options, 'contextShare', 0.5, 1);
  const edgeWeight = scorerNumber(options, 'edgeWeight', 0);
  const peerEdgeWeight = scorerNumber(options, 'peerEdgeWeight', 0);
  const peerEdgeShare = scorerNumber(options, 'peerEdgeShare', 0.6, 1);
  const withContext = similarity === 'region+context';
  /** `imageMean` is the embedding's whole-image feature when contrast is 'image-mean'. */
  /** Region and (when used) context features pooled over a coverage grid, before contrast. */
  const pooledFeatures = (embedding: EmbeddingGrid, coverage: Float32Array): RegionFeatures => ({
    region: pooledFeature(embedding, coverage),
    context: withContext ? pooledFeature(embedding, contextRingCoverage(embedding, coverage, contextCells)) : null,
  });
  const featuresOf = (embedding: EmbeddingGrid, coverage: Float32Array, imageMean: Float32Array | null): RegionFeatures => {
    const f = pooledFeatures(embedding, coverage);
    return contrasted(f.region, f.context, imageMean);
  };
  /** Features of a pool record: pooled once per embedding, record and ring width, whichever scorer asks. */
  const recordFeatures = (embedding: EmbeddingGrid, record: MaskRecord, imageMean: Float32Array | null): RegionFeatures => {
    let byRle = pooledRecords.get(embedding.data);
    if (!byRle) pooledRecords.set(embedding.data, (byRle = new WeakMap()));
    let byCells = byRle.get(record.segmentation);
    if (!byCells) byRle.set(record.segmentation, (byCells = new Map()));
    const key = withContext ? contextCells : 0;
    let raw = byCells.get(key);
    if (!raw) {
      raw = pooledFeatures(embedding, rleCoverage(embedding, record.segmentation));
      byCells.set(key, raw);
    }
    return contrasted(Float32Array.from(raw.region), raw.context && Float32Array.from(raw.context), imageMean);
  };
  /** Subtracts the image mean from both features in place (under 'image-mean' contrast). */
  const contrasted = (region: Float32Array, context: Float32Array | null, imageMean: Float32Array | null): RegionFeatures => {
    if (imageMean) {
      for (let k = 0; k < region.length; k++) {
        region[k] -= imageMean[k];
        if (context) context[k] -= imageMean[k];
      }
    }
    return { region, context };
  };
  // pointAffinity and score both contrast against the same image's mean: pool it once.
  const imageMeans = new WeakMap<EmbeddingGrid, Float32Array>();
  const imageMeanOf = (embedding: EmbeddingGrid) => {
    if (contrast !== 'image-mean') return null;
    let mean = imageMeans.get(embedding);
    if (!mean) {
      mean = pooledFeature(embedding, imageCoverage(embedding));
      imageMeans.set(embedding, mean);
    }
    return mean;
  };
  const prototypes = new WeakMap<Exemplar[], Promise<{ region: Float32Array; context: Float32Array | null }>>();

  const prototypeOf = (className: string, list: Exemplar[], signal?: AbortSignal) => {
    let cached = prototypes.get(list);
    if (!cached) {
      cached = (async () => {
        const regions: Float32Array[] = [];
        const contexts: Float32Array[] = [];
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
          const f = featuresOf(embedding, coverage, imageMeanOf(embedding));
          regions.push(f.region);
          if (f.context) contexts.push(f.context);
        }
        return { region: prototype(regions), context: withContext ? prototype(contexts) : null };
      })();
      cached.catch(() => prototypes.delete(list));
      prototypes.set(list, cached);
    }
    return cached;
  };

  const exemplarLists = (classes: ClassSpec[]) =>
    classes.map((cls) => {
      const list = cls.exemplars && cls.exemplars.length > 0 ? cls.exemplars : exemplars[cls.name];
      if (!Array.isArray(list) || list.length === 0) {
        throw new SalipError('INVALID_TASK', `class '${cls.name}': the exemplar scorer needs 1-5 exemplars (image + mask)`);
      }
      return list;
    });

  return {
    name: `exemplar:${similarity}:${contrast}:stability${stabilityWeight}${locationWeight > 0 ? `:location${locationWeight}` : ''}${shapeWeight > 0 ? `:shape${shapeWeight}` : ''}${boundaryWeight > 0 ? `:boundary${boundaryWeight}` : ''}${edgeWeight > 0 ? `:edge${edgeWeight}` : ''}${minPartRatio > 0 ? `:minpart${minPartRatio}` : ''}${ellipseWeight > 0 ? `:ellipse${ellipseWeight}${ellipseGate > 0 ? `:gate${ellipseGate}` : ''}` : ''}${peerEdgeWeight > 0 ? `:peeredge${peerEdgeWeight}:${peerEdgeShare}` : ''}${contextShare !== 0.5 && similarity === 'region+context' ? `:context${contextShare}` : ''}`,
    /**
     * Cosine between the feature pooled over the 3 x 3 embedding cells around each point (minus
     * the image mean under 'image-mean' contrast) and each class's region prototype.
     */
    async pointAffinity(ctx: AffinityContext, points: Float32Array): Promise<Float32Array> {
      if (!ctx || !Array.isArray(ctx.classes) || !ctx.embedding) {
        throw new SalipError('INVALID_ARGUMENT', 'exemplar scorer pointAffinity: expected a context with classes and the SAM embedding');
      }
      if (!(points instanceof Float32Array) || points.length % 2 !== 0) {
        throw new SalipError('INVALID_ARGUMENT', 'exemplar scorer pointAffinity: points must be a Float32Array of x, y pairs');
      }
      const lists = exemplarLists(ctx.classes);
      const protos: Float32Array[] = [];
      for (const [c, list] of lists.entries()) protos.push((await prototypeOf(ctx.classes[c].name, list, ctx.signal)).region);
      throwIfAborted(ctx.signal, 'exemplar point affinity');
      const embedding = ctx.embedding;
      const imageMean = imageMeanOf(embedding);
      const affinity = new Float32Array(points.length / 2);
      const features = pointWindowFeatures(embedding, points, 1);
      const channels = embedding.dims[1];
      for (let p = 0; p < affinity.length; p++) {
        const feature = features.subarray(p * channels, (p + 1) * channels);
        if (imageMean) for (let k = 0; k < feature.length; k++) feature[k] -= imageMean[k];
        let best = -Infinity;
        for (const proto of protos) best = Math.max(best, cosine(feature, proto));
        affinity[p] = best;
      }
      return affinity;
    },
    async score(ctx: ScoreContext): Promise<ScoreTable> {
      assertContext(ctx, 'exemplar');
      const lists = exemplarLists(ctx.classes);
      const embedding = ctx.embedding;
      if (!embedding) {
        throw new SalipError('INVALID_ARGUMENT', 'exemplar scorer: ctx.embedding (the SAM embedding of ctx.image) is required; candidates are pooled from it');
      }
      const { imageWidth, imageHeight } = embedding.transform;
      if (ctx.image && (ctx.image.width !== imageWidth || ctx.image.height !== imageHeight)) {
        throw new SalipError('SIZE_MISMATCH', `exemplar scorer: ctx.embedding was made for a ${imageWidth} x ${imageHeight} image, ctx.image is ${ctx.image.width} x ${ctx.image.height}`);
      }
      const protos: Array<{ region: Float32Array; context: Float32Array | null }> = [];
      for (const [c, list] of lists.entries()) protos.push(await prototypeOf(ctx.classes[c].name, list, ctx.signal));
      throwIfAborted(ctx.signal, 'exemplar scoring');
      const n = ctx.candidates.length;
      const nClasses = protos.length;
      const scores = new Float32Array(nClasses * n);
      const imageMean = imageMeanOf(embedding);
      const locations = locationWeight > 0 ? lists.map((list, c) => exemplarPriorOf(list, ctx.classes[c].topK ?? 1)) : [];
      const classShapes = shapeWeight > 0 ? lists.map((list, c) => exemplarShapesOf(list, ctx.classes[c].topK ?? 1)) : [];
      const boundaries = boundaryWeight > 0 ? lists.map((list) => exemplarBoundaryOf(list)) : [];
      const luminance = boundaryWeight > 0 ? luminanceOfImage(ctx.image) : undefined;
      const edgePriors = edgeWeight > 0 ? lists.map((list) => exemplarEdgeOf(list)) : [];
      const edges = edgeWeight > 0 || ellipseWeight > 0 || peerEdgeWeight > 0 ? edgeMapOfImage(ctx.image) : undefined;
      const ellipsePriors = ellipseWeight > 0 ? lists.map((list) => exemplarEllipseOf(list)) : [];
      const imageArea = imageWidth * imageHeight;
      const partFloors = minPartRatio > 0 ? lists.map((list, c) => minPartRatio * smallestExemplarPartOf(list, ctx.classes[c].topK ?? 1) * imageArea) : [];
      /** Whether candidate i is under class c's part floor (minPartRatio). */
      const underFloor = (c: number, i: number) => minPartRatio > 0 && ctx.candidates[i].area < partFloors[c];
      const outlineEdges = new Float32Array(n);
      ctx.candidates.forEach((record, i) => {
        const f = recordFeatures(embedding, record, imageMean);
        // Records built by hand may carry no stability score; they get no prior.
        const prior = stabilityWeight > 0 && Number.isFinite(record.stabilityScore) ? stabilityWeight * record.stabilityScore : 0;
        const mask = recordMask(record);
        const shape = shapeWeight > 0 ? shapeOfRecord(record, mask) : undefined;
        const contrast = luminance ? contrastOfRecord(record, luminance, mask) : 0;
        const edge = edges && (edgeWeight > 0 || peerEdgeWeight > 0) ? edgeOfRecord(record, edges, mask) : 0;
        outlineEdges[i] = edge;
        protos.forEach((p, c) => {
          const similarityScore =
            f.context && p.context ? 100 * ((1 - contextShare) * cosine(f.region, p.region) + contextShare * cosine(f.context, p.context)) : 100 * cosine(f.region, p.region);
          const location = locations[c]
            ? locationWeight * locations[c].consistency * priorBoxAgreement(locations[c], boxXywhToXyxy(record.bbox), imageWidth, imageHeight)
            : 0;
          const shapeScore = shape ? shapeWeight * shapePriorAgreement(classShapes[c], shape) : 0;
          const boundaryScore = luminance ? boundaryWeight * boundaryAgreement(boundaries[c], contrast) : 0;
          const edgeScore = edgeWeight > 0 ? edgeWeight * edgeAgreement(edgePriors[c], edge) : 0;
          const tooSmall = underFloor(c, i) ? SMALL_PART_PENALTY : 0;
          scores[c * n + i] = similarityScore + prior + location + shapeScore + boundaryScore + edgeScore - tooSmall;
        });
      });
      if (peerEdgeWeight > 0 && n > 0) {
        for (let c = 0; c < nClasses; c++) {
          let strongest = 0;
          for (let i = 0; i < n; i++) if (!underFloor(c, i)) strongest = Math.max(strongest, outlineEdges[i]);
          if (!(strongest > 0)) continue;
          for (let i = 0; i < n; i++) scores[c * n + i] -= peerEdgeWeight * Math.max(0, peerEdgeShare - outlineEdges[i] / strongest);
        }
      }
      if (edges && ellipseWeight > 0 && n > 0) {
        const ellipseOf = (i: number) => ellipseOfRecord(ctx.candidates[i], edges);
        for (let c = 0; c < nClasses; c++) {
          let top = 0;
          for (let i = 1; i < n; i++) if (scores[c * n + i] > scores[c * n + top]) top = i;
          if (ellipseGate > 0 && ellipseOf(top) >= ellipsePriors[c] - ellipseGate) continue;
          for (let i = 0; i < n; i++) scores[c * n + i] += ellipseWeight * Math.min(0, ellipseOf(i) - ellipsePriors[c]);
        }
      }
      return { classNames: ctx.classes.map((c) => c.name), candidateCount: n, scores };
    },
  };
}

/** The scorer's numeric option `key` (its fallback when absent): a finite number from 0 to `max`. */
function scorerNumber(options: ExemplarScorerOptions, key: 'contextShare' | 'stabilityWeight' | 'locationWeight' | 'shapeWeight' | 'boundaryWeight' | 'edgeWeight' | 'minPartRatio' | 'ellipseWeight' | 'ellipseGate' | 'peerEdgeWeight' | 'peerEdgeShare', fallback: number, max = Infinity): number {
  const v = options[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) {
    const range = max === Infinity ? 'a number >= 0' : `a number 0..${max}`;
    throw new SalipError('INVALID_ARGUMENT', `exemplar scorer ${key}: expected ${range}, got ${JSON.stringify(options[key])}`);
  }
  return v;
}

/** Normalised mean of normalised feature vectors (a zero vector when every input is zero). */
function prototype(features: Float32Array[]): Float32Array {
  const sum = new Float32Array(features[0]?.length ?? 0);
  for (const f of features) {
    const unit = l2Normalize(f);
    for (let k = 0; k < sum.length; k++) sum[k] += unit[k];
  }
  return l2Normalize(sum);
}
