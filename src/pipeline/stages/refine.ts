/**
 * Stage 4 of SaLIP: prompt SAM with the box of each retrieved candidate (single-mask output),
 * threshold at 0 and take the union per class (the two lungs become one lung mask).
 *
 * Beyond the single box pass of the paper: `iterations` > 1 prompts again with the box of the
 * previous pass's mask and its low-res logits as `mask_input` (segment-anything's iterative
 * refinement), so a loose first box tightens; `fillHoles`, `largestComponent` and `convexHull`
 * clean each part; `peelSurroundings` peels what looks like the organ's surroundings off each
 * chosen part, and `fitEllipse` replaces it by an ellipse fitted to its outline.
 * refineAndRescore (rescore.ts) refines more candidates than topK and lets the scorer choose
 * among the refined masks, so a bad first pick can be replaced; with `ellipseBoxes` it also
 * refines the box of each refined mask's edge-supported ellipse, so a leak brings its tight organ.
 */
import { createThresholdUpscaler, upscalerGeometry } from '../../core/everything/index.js';
import type { Luminance } from '../../core/boundary-prior.js';
import type { EdgeMap } from '../../core/edge-prior.js';
import { edgeSupportedEllipse, ellipseArea, ellipseMask, resampleEllipse } from '../../core/ellipse.js';
import { boxXywhToXyxy, connectedComponents, convexHull, createMask, decodeRle, fillHoles, maskArea, maskToBox, maskUnion, resizeMaskBilinear } from '../../core/mask.js';
import { peelSurroundings, type PeelPrior } from '../../core/peel.js';
import type { BinaryMask, BoxXYXY, RgbImage } from '../../core/types.js';
import { edgeMapOfImage, exemplarPeelOf, luminanceOfImage } from '../exemplar-cues.js';
import type { Exemplar } from '../scorers.js';
import type { MaskRecord, SamImageEmbedding, SamModel, SamPrompt } from '../types.js';
import { embeddingFor, type PromptedMask, type PromptedOptions } from './prompted.js';
import { numberOption, throwIfAborted } from './options.js';
import type { RetrievedCandidate } from './retrieve.js';

/** How a box becomes a part mask. The defaults are the paper's single box pass. */
export interface RefineSettings {
  /** Box passes per candidate (default 1); each later pass adds the previous mask as mask_input. */
  iterations?: number;
  /** Fill holes of each part mask (default false). */
  fillHoles?: boolean;
  /** Keep only each part's largest connected component (default false). */
  largestComponent?: boolean;
  /**
   * Replace each part by its filled convex hull (default false), after the other clean-ups: for
   * convex organs SAM returns as a ring or a crescent (a fetal skull without its inside).
   */
  convexHull?: boolean;
  /**
   * Also decode each candidate's box with multi-mask output and let the scorer weigh SAM's three
   * granularities against the refined mask (default false; one more decoder run per candidate,
   * used by refineAndRescore when it re-scores).
   */
  multimaskAlternatives?: boolean;
  /**
   * Logit threshold of refined masks (default 0, SAM's). Above 0 trims the weak margin where a
   * low-contrast organ's mask leaks into its neighbours.
   */
  maskThreshold?: number;
  /**
   * Widens each candidate's box by this share of its width and height on every side before the
   * first pass (default 0). A candidate that stops at the inner edge of a bright boundary (the
   * brain inside a fetal skull) then refines into the whole organ; SAM decides where it ends.
   */
  boxMargin?: number;
  /**
   * Keeps each retrieved candidate itself in the running beside its refinements when they are
   * re-scored (default false; no decoder call). A box prompt around a tight candidate can leak
   * into the tissue around it (a fetal head in a crowded ultrasound); the scorer then still has
   * the tight one to choose.
   */
  keepRetrieved?: boolean;
  /**
   * Replaces each chosen part by a pixel vote of the re-scored masks that overlap it (mask IoU at
   * least 0.3, at least 3 of them): a pixel stays when this share of them covers it (default 0:
   * off; 0.5 is a majority). Masks of one organ from different boxes agree on the organ and each
   * leaks its own way; the vote keeps what they agree on. No decoder call.
   */
  consensus?: number;
  /**
   * Replaces each chosen part by the ellipse through the stronger half of its outline (the
   * outline pixels on the image's stronger edges; core/ellipse.ts) and reports the ellipse on the
   * part (default false). For organs measured as ellipses (a fetal head's circumference): the
   * skull keeps the ellipse where SAM's mask bulges or dents. The part stays as it is when no
   * ellipse fits or the ellipse's area is under half or over twice the part's.
   */
  fitEllipse?: boolean;
  /**
   * Peels off each chosen part the pixels that look like the organ's surroundings (default
   * false; a class without exemplars is not peeled): those on the surroundings' side of the luminance halfway
   * between the exemplars' organ and the band around it (relative to the organ's median, so
   * another intensity scale gets the same cut), reached from the part's outline through such
   * pixels; then the largest piece is kept and the other clean-ups run again. For an organ in a
   * dark gap SAM's mask takes along (the brain in its CSF on T1 MRI). Before `fitEllipse`.
   * Volume propagation runs its cascades without it (volume-propagation.ts says why).
   */
  peelSurroundings?: boolean;
  /**
   * Rounds of ellipse boxes (default 0: off; at most 4): when candidates are re-scored, each
   * refined candidate is refined again from the box of the ellipse through the stronger half of
   * its outline, and that mask in turn, `ellipseBoxes` times; every mask joins the re-scoring. A
   * fetal head that leaked through a gap in its skull keeps the skull as the stronger half of its
   * outline, so the ellipse's box is the head's and SAM prompted with it stops at the skull. One
   * decoder run per round and candidate (a box already decoded for the class is not run again).
   */
  ellipseBoxes?: number;
}

export interface RefineOptions extends PromptedOptions, RefineSettings {
  /**
   * Each class's exemplars by class name, for `peelSurroundings` in refine() (the cascade and the
   * exemplar-box baseline take them from the class).
   */
  exemplars?: Readonly<Record<string, readonly Exemplar[] | undefined>>;
}

export interface RefinedClass {
  /** Union of the refined masks of the class. */
  readonly mask: BinaryMask;
  /** One refined mask per chosen candidate, in rank order. */
  readonly parts: PromptedMask[];
}

/** A refined part at the embedding's image size (for scoring) and its last pass. */
export interface RefinedPart {
  /** The mask at the embedding's image size, post-processed. */
  readonly working: BinaryMask;
  /**
   * The last pass's prompt, low-res logits (empty for a retrieved candidate kept as it is, see
   * `keepRetrieved`), predicted IoU and stability.
   */
  readonly prompt: SamPrompt;
  readonly lowResLogits: Float32Array;
  readonly predictedIou: number;
  readonly stabilityScore: number;
  /** Decoder calls it took. */
  readonly passes: number;
}

export function resolveRefineSettings(settings: RefineSettings = {}): Required<RefineSettings> {
  return {
    iterations: numberOption(settings.iterations, 1, 'refine iterations', { integer: true, min: 1, max: 8 }),
    fillHoles: settings.fillHoles === true,
    largestComponent: settings.largestComponent === true,
    convexHull: settings.convexHull === true,
    multimaskAlternatives: settings.multimaskAlternatives === true,
    maskThreshold: numberOption(settings.maskThreshold, 0, 'refine maskThreshold', { min: -20, max: 20 }),
    boxMargin: numberOption(settings.boxMargin, 0, 'refine boxMargin', { min: 0, max: 1 }),
    keepRetrieved: settings.keepRetrieved === true,
    consensus: numberOption(settings.consensus, 0, 'refine consensus', { min: 0, max: 1 }),
    fitEllipse: settings.fitEllipse === true,
    peelSurroundings: settings.peelSurroundings === true,
    ellipseBoxes: numberOption(settings.ellipseBoxes, 0, 'refine ellipseBoxes', { integer: true, min: 0, max: 4 }),
  };
}

/** Keeps the largest 8-connected component (the mask itself when it has at most one). */
export function largestComponent(mask: BinaryMask): BinaryMask {
  const { labels, areas } = connectedComponents(mask, 8);
  if (areas.length <= 1) return mask;
  let best = 0;
  for (let i = 1; i < areas.length; i++) if (areas[i] > areas[best]) best = i;
  const out = createMask(mask.width, mask.height);
  for (let i = 0; i < labels.length; i++) out.data[i] = labels[i] === best + 1 ? 1 : 0;
  return out;
}

/** The part clean-up a task asks for: largest component first, then holes filled, then the hull. */
export function cleanPart(mask: BinaryMask, settings: Required<RefineSettings>): BinaryMask {
  let out = mask;
  if (settings.largestComponent) out = largestComponent(out);
  if (settings.fillHoles) out = fillHoles(out);
  if (settings.convexHull) out = convexHull(out);
  return out;
}

/** `box` widened by `margin` x its width / height on each side, clamped to a width x height image. */
export function widenBox(box: BoxXYXY, margin: number, width: number, height: number): BoxXYXY {
  if (margin === 0) return box;
  const dx = margin * (box[2] - box[0] + 1);
  const dy = margin * (box[3] - box[1] + 1);
  return [Math.max(0, box[0] - dx), Math.max(0, box[1] - dy), Math.min(width - 1, box[2] + dx), Math.min(height - 1, box[3] + dy)];
}

/**
 * Refines one box (widened by settings.boxMargin first): `iterations` single-mask passes, each after the first prompted with the box
 * of the previous mask and its low-res logits. Stops early when a pass returns an empty mask
 * (the previous pass is kept).
 */
export async function refineBox(
  sam: SamModel,
  embedding: SamImageEmbedding,
  box: BoxXYXY,
  settings: Required<RefineSettings>,
  signal?: AbortSignal,
): Promise<RefinedPart> {
  const t = embedding.transform;
  let upscale: ReturnType<typeof createThresholdUpscaler> | undefined;
  let prompt: SamPrompt = { box: widenBox(box, settings.boxMargin, t.imageWidth, t.imageHeight) };
  let best: Omit<RefinedPart, 'working' | 'passes'> & { mask: BinaryMask } | undefined;
  let passes = 0;
  for (let pass = 0; pass < settings.iterations; pass++) {
    throwIfAborted(signal, 'refinement');
    const result = await sam.decode(embedding, prompt, { multimask: false });
    passes++;
    upscale ??= createThresholdUpscaler(upscalerGeometry(result.lowResSize, t));
    const mask = createMask(t.imageWidth, t.imageHeight);
    const cut = upscale(result.lowResLogits[0], settings.maskThreshold, 1, mask.data);
    if (cut.area === 0 && best) break;
    // The decoder's output buffer may be reused by the next run: keep a copy.
    const lowResLogits = Float32Array.from(result.lowResLogits[0]);
    best = { prompt, lowResLogits, predictedIou: result.iouPredictions[0], stabilityScore: cut.stability, mask };
    if (cut.area === 0) break;
    prompt = { box: cut.box, maskInput: lowResLogits };
  }
  const { mask, ...rest } = best!;
  return { ...rest, working: cleanPart(mask, settings), passes };
}

/**
 * SAM's multi-mask outputs for a box, as refined parts of one pass each (the alternatives a
 * scorer may prefer to the single-mask answer: the organ without a neighbour it leaked into).
 */
export async function boxAlternatives(sam: SamModel, embedding: SamImageEmbedding, box: BoxXYXY, settings: Required<RefineSettings>): Promise<RefinedPart[]> {
  if (!sam.info.supportsMultimask) return [];
  const t = embedding.transform;
  box = widenBox(box, settings.boxMargin, t.imageWidth, t.imageHeight);
  const result = await sam.decode(embedding, { box }, { multimask: true });
  const upscale = createThresholdUpscaler(upscalerGeometry(result.lowResSize, t));
  const parts: RefinedPart[] = [];
  result.lowResLogits.forEach((logits, m) => {
    const mask = createMask(t.imageWidth, t.imageHeight);
    const cut = upscale(logits, settings.maskThreshold, 1, mask.data);
    if (cut.area === 0) return;
    parts.push({
      prompt: { box },
      lowResLogits: Float32Array.from(logits),
      predictedIou: result.iouPredictions[m],
      stabilityScore: cut.stability,
      working: cleanPart(mask, settings),
      passes: m === 0 ? 1 : 0,
    });
  });
  return parts;
}

/** An ellipse smaller than this (pixels at the working size) boxes nothing: it is a fit to a speck. */
const MIN_ELLIPSE_BOX_AREA = 16;

/**
 * The box of the ellipse through the stronger half of the mask's outline (core/ellipse.ts),
 * clipped to the mask's frame; undefined when no ellipse fits or it is a speck.
 */
export function ellipseBox(mask: BinaryMask, edges: EdgeMap): BoxXYXY | undefined {
  // An empty mask has no outline: edgeSupportedEllipse fits nothing to it.
  const fitted = edgeSupportedEllipse(mask, edges);
  if (!fitted) return undefined;
  const drawn = ellipseMask(fitted, mask.width, mask.height);
  return maskArea(drawn) >= MIN_ELLIPSE_BOX_AREA ? maskToBox(drawn) : undefined;
}

/**
 * `settings.ellipseBoxes` rounds from one refined part: each round refines the box of the
 * previous mask's edge-supported ellipse (ellipseBox). `decoded` holds the class's boxes already
 * run (keyed by their coordinates): a repeated box reuses its part at no decoder run. Stops early
 * when no ellipse fits or SAM returns nothing.
 */
export async function ellipseBoxRefinements(
  sam: SamModel,
  embedding: SamImageEmbedding,
  part: RefinedPart,
  edges: EdgeMap,
  settings: Required<RefineSettings>,
  decoded: Map<string, RefinedPart>,
  signal?: AbortSignal,
): Promise<RefinedPart[]> {
  const out: RefinedPart[] = [];
  let current = part.working;
  for (let round = 0; round < settings.ellipseBoxes; round++) {
    const box = ellipseBox(current, edges);
    if (!box) break;
    const key = box.join(',');
    let next = decoded.get(key);
    if (next) next = { ...next, passes: 0 };
    else decoded.set(key, (next = await refineBox(sam, embedding, box, settings, signal)));
    if (maskArea(next.working) === 0) break;
    out.push(next);
    current = next.working;
  }
  return out;
}

/** A retrieved candidate as a contender of its own refinements (`keepRetrieved`): its mask as it is. */
export function retrievedPart(record: MaskRecord, settings: Required<RefineSettings>): RefinedPart {
  return {
    prompt: { box: boxXywhToXyxy(record.bbox) },
    lowResLogits: new Float32Array(0),
    predictedIou: record.predictedIou,
    stabilityScore: record.stabilityScore,
    working: cleanPart(decodeRle(record.segmentation), settings),
    passes: 0,
  };
}

/** A refined part at the output size: its last pass's logits upscaled there, post-processed alike. */
export function partAtSize(part: RefinedPart, embedding: SamImageEmbedding, width: number, height: number, settings: Required<RefineSettings>): PromptedMask {
  const t = embedding.transform;
  const threshold = settings.maskThreshold;
  const sameSize = width === t.imageWidth && height === t.imageHeight;
  let mask = part.working;
  if (!sameSize && part.lowResLogits.length === 0) {
    // A retrieved candidate kept as it is has no logits: its mask is resized, smoothly.
    mask = cleanPart(resizeMaskBilinear(part.working, width, height), settings);
  } else if (!sameSize) {
    mask = createMask(width, height);
    const side = Math.round(Math.sqrt(part.lowResLogits.length));
    createThresholdUpscaler(upscalerGeometry(side, t, width, height))(part.lowResLogits, threshold, 1, mask.data);
    mask = cleanPart(mask, settings);
  }
  return { prompt: part.prompt, mask, predictedIou: part.predictedIou, stabilityScore: part.stabilityScore };
}

/** An ellipse whose area is outside this factor of its part's (either way) is not the part's. */
const ELLIPSE_AREA_FACTOR = 2;

/**
 * The chosen part replaced by the ellipse through the stronger half of its outline at the working
 * size (`working`, whose image gave `edges`), drawn at the part's size; the part as it is when
 * `edges` is undefined (refine.fitEllipse off), no ellipse fits or its area is not within a
 * factor of 2 of the part's.
 */
export function ellipsePart(part: PromptedMask, working: BinaryMask, edges: EdgeMap | undefined): PromptedMask {
  if (!edges) return part;
  const area = maskArea(working);
  const fitted = area > 0 ? edgeSupportedEllipse(working, edges) : undefined;
  if (!fitted) return part;
  const ratio = ellipseArea(fitted) / area;
  if (!(ratio >= 1 / ELLIPSE_AREA_FACTOR && ratio <= ELLIPSE_AREA_FACTOR)) return part;
  const { width, height } = part.mask;
  const ellipse = resampleEllipse(fitted, working.width, working.height, width, height);
  const mask = ellipseMask(ellipse, width, height);
  return maskArea(mask) > 0 ? { ...part, mask, ellipse } : part;
}

/** What the finishing steps of a class's chosen parts need (a member is undefined when its step is off). */
export interface PartFinishing {
  /** The image's edge map, for fitEllipse (shared with the exemplar scorer's). */
  readonly edges?: EdgeMap;
  /** The exemplars' peel prior and the image's luminance, for peelSurroundings. */
  readonly peel?: { readonly prior: PeelPrior; readonly luminance: Luminance };
}

/**
 * The finishing inputs of a class with `exemplars` on `image` (the working image). A class
 * without exemplars (text prompts alone) has nothing to learn its surroundings from: it is not
 * peeled.
 */
export function partFinishing(image: RgbImage, settings: Required<RefineSettings>, exemplars: readonly Exemplar[] | undefined): PartFinishing {
  let peel: PartFinishing['peel'];
  const prior = settings.peelSurroundings && exemplars && exemplars.length > 0 ? exemplarPeelOf(exemplars) : undefined;
  if (prior) peel = { prior, luminance: luminanceOfImage(image) };
  return { edges: settings.fitEllipse ? edgeMapOfImage(image) : undefined, peel };
}

/**
 * The chosen part with its surroundings peeled off at the working size (`working`, the size of
 * `peel.luminance`), its largest piece kept and cleaned again; at another output size the part's
 * mask keeps only what the peeled working mask (resized smoothly) covers. The part as it is when
 * the peel would leave nothing.
 */
export function peeledPart(
  part: PromptedMask,
  working: BinaryMask,
  peel: NonNullable<PartFinishing['peel']>,
  settings: Required<RefineSettings>,
): { part: PromptedMask; working: BinaryMask } {
  const kept = largestComponent(peelSurroundings(working, peel.luminance, peel.prior));
  if (maskArea(kept) === 0) return { part, working };
  const peeledWorking = cleanPart(kept, settings);
  const { width, height } = part.mask;
  if (width === working.width && height === working.height) return { part: { ...part, mask: peeledWorking }, working: peeledWorking };
  const cover = resizeMaskBilinear(kept, width, height);
  const mask = createMask(width, height);
  for (let i = 0; i < mask.data.length; i++) mask.data[i] = part.mask.data[i] && cover.data[i] ? 1 : 0;
  const cleaned = cleanPart(largestComponent(mask), settings);
  return maskArea(cleaned) > 0 ? { part: { ...part, mask: cleaned }, working: peeledWorking } : { part, working };
}

/** A chosen part finished: peeled (peelSurroundings), then replaced by its ellipse (fitEllipse). */
export function finishPart(part: PromptedMask, working: BinaryMask, finishing: PartFinishing, settings: Required<RefineSettings>): PromptedMask {
  if (finishing.peel) ({ part, working } = peeledPart(part, working, finishing.peel, settings));
  return ellipsePart(part, working, finishing.edges);
}

/** Refines every class's chosen candidates with box prompts. */
export async function refine(
  sam: SamModel,
  image: RgbImage,
  chosen: Readonly<Record<string, readonly RetrievedCandidate[]>>,
  options: RefineOptions = {},
): Promise<Record<string, RefinedClass>> {
  const settings = resolveRefineSettings(options);
  const embedding = await embeddingFor(sam, image, options.embedding, options);
  const outWidth = options.outputWidth ?? image.width;
  const outHeight = options.outputHeight ?? image.height;
  const out: Record<string, RefinedClass> = {};
  const total = Object.values(chosen).reduce((n, list) => n + list.length, 0);
  let done = 0;
  for (const [name, candidates] of Object.entries(chosen)) {
    const finishing = partFinishing(image, settings, options.exemplars?.[name]);
    const parts: PromptedMask[] = [];
    for (const c of candidates) {
      const part = await refineBox(sam, embedding, boxXywhToXyxy(c.record.bbox), settings, options.signal);
      parts.push(finishPart(partAtSize(part, embedding, outWidth, outHeight, settings), part.working, finishing, settings));
      options.onProgress?.({ stage: 'prompted', done: ++done, total });
    }
    out[name] = { mask: parts.length > 0 ? maskUnion(parts.map((p) => p.mask)) : createMask(outWidth, outHeight), parts };
  }
  return out;
}
