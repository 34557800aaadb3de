/**
 * Proposals beyond the uniform grid: prompts made from the exemplars, decoded into candidates
 * that join segment-everything's pool and face the same scorer. Segment-everything only offers
 * what a grid point happens to land on; an organ whose parts SAM splits or merges with its
 * neighbours (the heart and the mediastinum) may never be offered whole. Two proposers run by
 * default, two more on request:
 *
 * - 'exemplar-box': the exemplars' mean box per part (core/exemplar-prior.ts), scaled to the
 *   image: where the organ usually is, at its usual size.
 * - 'similarity': the exemplar scorer's point affinity over a dense grid of the image (how much
 *   each place looks like the exemplars' region in SAM's embedding), as PerSAM does with its
 *   location confidence map: the most alike place as a positive point, the least alike as a
 *   negative point, and the box of the alike region around the peak.
 * - 'exemplar-centred-box' (optional): each exemplar's box, centred on the alike region.
 * - 'ring' (optional): the box of each of the image's brightest elliptical rings of the
 *   exemplars' size (core/rings.ts).
 *
 * Each record carries `proposer`, so the result says which proposer made each candidate.
 */
import { createThresholdUpscaler, pointGrid, upscalerGeometry } from '../../core/everything/index.js';
import { denormalizeBox, exemplarPrior, type ExemplarPrior, type NormalizedBox } from '../../core/exemplar-prior.js';
import { boxIoU, boxXywhToXyxy, boxXyxyToXywh, createMask, encodeRleInBox } from '../../core/mask.js';
import { ellipseBounds } from '../../core/ellipse.js';
import { SalipError } from '../../core/errors.js';
import { brightRings } from '../../core/rings.js';
import type { BoxXYXY, RgbImage } from '../../core/types.js';
import { luminanceOfImage } from '../exemplar-cues.js';
import { exemplarPriorOf, type ClassSpec, type Scorer } from '../scorers.js';
import type { MaskRecord, SamImageEmbedding, SamModel, SamPrompt } from '../types.js';
import { numberOption, throwIfAborted, type StageControl } from './options.js';

/** Which proposers run for classes described by exemplars (the box and similarity ones by default). */
export interface ProposalSettings {
  /** The exemplars' mean box per part as a box prompt (default true). */
  exemplarBox?: boolean;
  /**
   * Each exemplar's own part boxes as box prompts too (default false): where the organ's size
   * varies, one of them may fit better than the mean.
   */
  eachExemplarBox?: boolean;
  /** Points and box from the exemplar similarity map (default true; needs Scorer.pointAffinity). */
  similarity?: boolean;
  /** Side of the point grid the similarity map is sampled on (default 32). */
  similarityGrid?: number;
  /**
   * Share of the way from the map's median up to its peak above which a grid point counts as
   * alike (default 0.5): the region around the peak whose box becomes a prompt.
   */
  similarityLevel?: number;
  /**
   * Each exemplar's part box, moved so that its centre is the centre of the alike region of the
   * similarity map (default false; needs `similarity`): the sizes the exemplars show, where this
   * image looks like them. The exemplars' own boxes sit where the organ was in their images; where
   * the organ moves between images (a fetal head in the uterus) none of them may lie on it.
   */
  centredBoxes?: boolean;
  /**
   * Box prompts around the image's brightest elliptical rings (default false; core/rings.ts): a
   * skull in ultrasound, whose inside SAM splits into brain and wall when prompted by points.
   * Their size is bounded by the exemplars' (half to one and a half times their boxes).
   */
  rings?: boolean;
  /** How many rings are proposed (default 3). */
  ringCount?: number;
  /**
   * A ring's mask whose box overlaps a candidate already in the pool (segment-everything's or
   * another proposer's) by more than this box IoU is dropped (default 1: every ring's mask
   * joins). The rings are there for heads no other prompt finds; a ring that repeats a candidate
   * adds nothing but a near-copy that can change which candidates are refined.
   */
  ringDuplicateIoU?: number;
}

export const PROPOSAL_DEFAULTS: Required<ProposalSettings> = { exemplarBox: true, eachExemplarBox: false, similarity: true, similarityGrid: 32, similarityLevel: 0.5, centredBoxes: false, rings: false, ringCount: 3, ringDuplicateIoU: 1 };

/** A prompt with the name of the proposer that made it. */
export interface ProposalPrompt {
  readonly proposer: string;
  readonly prompt: SamPrompt;
  /** Multi-mask output (three granularities) or the single best mask. */
  readonly multimask: boolean;
}

export interface ProposalOptions extends ProposalSettings, StageControl {
  /** The SAM embedding of `image` (proposals are decoded on it). */
  embedding: SamImageEmbedding;
  /** The scorer whose pointAffinity draws the similarity map. */
  scorer?: Scorer;
  /** The image the embedding is of (needed by `rings`). */
  image?: RgbImage;
  /** Candidates already in the pool (segment-everything's), against which `ringDuplicateIoU` checks rings. */
  existing?: readonly MaskRecord[];
}

/** The exemplar prior of a class (parts = its topK), or undefined for a class without exemplars. */
export function classPrior(cls: ClassSpec): ExemplarPrior | undefined {
  if (!cls.exemplars || cls.exemplars.length === 0) return undefined;
  return exemplarPriorOf(cls.exemplars, cls.topK ?? 1);
}

/** One box prompt per part of the prior, scaled to a width x height image. */
export function priorPrompts(prior: ExemplarPrior, width: number, height: number, multimask: boolean): ProposalPrompt[] {
  return prior.parts.map((part) => ({ proposer: 'exemplar-box', prompt: { box: denormalizeBox(part, width, height) }, multimask }));
}

/** One alike region of a similarity map: its peak (grid index) and the box of the region around it. */
export interface AlikeRegion {
  readonly peak: number;
  readonly box: BoxXYXY;
}

/**
 * The alike regions of a similarity map sampled at `points` (x, y pairs in image pixels on a
 * side x side grid, row-major), one per part: the grid points around the highest one that lie
 * above `level` of the way from the map's median to that peak. Each further part takes the
 * highest point outside the regions already used.
 */
export function alikeRegions(affinity: Float32Array, points: Float32Array, side: number, parts: number, level: number): AlikeRegion[] {
  const n = side * side;
  const sorted = Float32Array.from(affinity).sort();
  const median = sorted[n >> 1];
  const used = new Uint8Array(n);
  const out: AlikeRegion[] = [];
  for (let part = 0; part < parts; part++) {
    let peak = -1;
    for (let i = 0; i < n; i++) if (!used[i] && (peak < 0 || affinity[i] > affinity[peak])) peak = i;
    if (peak < 0) break;
    const threshold = median + level * (affinity[peak] - median);
    out.push({ peak, box: regionBox(growRegion(affinity, side, peak, threshold, used), points) });
  }
  return out;
}

/**
 * Prompts from a similarity map (as alikeRegions reads it): per part, the peak as a positive
 * point with the map's lowest point as a negative one (multi-mask), and the box of the alike
 * region around the peak with the peak (single mask).
 */
export function similarityPrompts(
  affinity: Float32Array,
  points: Float32Array,
  side: number,
  parts: number,
  level: number,
  multimask: boolean,
): ProposalPrompt[] {
  return regionPrompts(alikeRegions(affinity, points, side, parts, level), affinity, points, multimask);
}

/** similarityPrompts from alike regions already found on the map. */
function regionPrompts(regions: readonly AlikeRegion[], affinity: Float32Array, points: Float32Array, multimask: boolean): ProposalPrompt[] {
  let low = 0;
  for (let i = 1; i < affinity.length; i++) if (affinity[i] < affinity[low]) low = i;
  const at = (i: number) => ({ x: points[2 * i], y: points[2 * i + 1] });
  return regions.flatMap(({ peak, box }) => [
    { proposer: 'similarity', prompt: { points: [{ ...at(peak), label: 1 }, { ...at(low), label: 0 }] }, multimask },
    { proposer: 'similarity', prompt: { box, points: [{ ...at(peak), label: 1 }] }, multimask: false },
  ]);
}

/**
 * Each exemplar's part boxes (normalised, one list per exemplar) at the size they have in a
 * width x height image, centred on the alike region whose centre is nearest their own, and
 * shifted back inside the image where they would cross its edge.
 */
export function centredBoxPrompts(exemplarParts: readonly (readonly NormalizedBox[])[], regions: readonly AlikeRegion[], width: number, height: number, multimask: boolean): ProposalPrompt[] {
  if (regions.length === 0) return [];
  const centres = regions.map(({ box }) => [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]);
  const out: ProposalPrompt[] = [];
  for (const parts of exemplarParts) {
    for (const part of parts) {
      const [x0, y0, x1, y1] = denormalizeBox(part, width, height);
      // Pixel boxes are inclusive (denormalizeBox): x1 - x0 fits in width - 1.
      const [bw, bh] = [x1 - x0, y1 - y0];
      const own = [(x0 + x1) / 2, (y0 + y1) / 2];
      const [cx, cy] = centres.reduce((best, c) => (Math.hypot(c[0] - own[0], c[1] - own[1]) < Math.hypot(best[0] - own[0], best[1] - own[1]) ? c : best));
      const left = Math.round(Math.max(0, Math.min(width - 1 - bw, cx - bw / 2)));
      const top = Math.round(Math.max(0, Math.min(height - 1 - bh, cy - bh / 2)));
      out.push({ proposer: 'exemplar-centred-box', prompt: { box: [left, top, left + bw, top + bh] }, multimask });
    }
  }
  return out;
}

/** The 4-connected grid points at or above `threshold` around `seed`; marks them used. */
function growRegion(affinity: Float32Array, side: number, seed: number, threshold: number, used: Uint8Array): number[] {
  const region = [seed];
  used[seed] = 1;
  for (let k = 0; k < region.length; k++) {
    const i = region[k];
    const x = i % side;
    const y = (i - x) / side;
    for (const [dx, dy] of [[1, 0], [-1, 0], [0, 1], [0, -1]]) {
      const nx = x + dx;
      const ny = y + dy;
      if (nx < 0 || ny < 0 || nx >= side || ny >= side) continue;
      const j = ny * side + nx;
      if (!used[j] && affinity[j] >= threshold) {
        used[j] = 1;
        region.push(j);
      }
    }
  }
  return region;
}

/** Box around a region's grid points, grown by half a grid step (each point stands for its cell). */
function regionBox(region: number[], points: Float32Array): BoxXYXY {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const i of region) {
    x0 = Math.min(x0, points[2 * i]);
    y0 = Math.min(y0, points[2 * i + 1]);
    x1 = Math.max(x1, points[2 * i]);
    y1 = Math.max(y1, points[2 * i + 1]);
  }
  // Grid points sit at cell centres: half a step is the distance of the first point from the edge.
  const hx = points[0];
  const hy = points[1];
  return [Math.max(0, x0 - hx), Math.max(0, y0 - hy), x1 + hx, y1 + hy];
}

/** The similarity map of one class on a side x side grid of the image: affinities and their points. */
export async function similarityMap(
  scorer: Scorer,
  cls: ClassSpec,
  embedding: SamImageEmbedding,
  side: number,
  signal?: AbortSignal,
): Promise<{ affinity: Float32Array; points: Float32Array } | undefined> {
  if (typeof scorer.pointAffinity !== 'function') return undefined;
  const { imageWidth: w, imageHeight: h } = embedding.transform;
  const unit = pointGrid(side);
  const points = new Float32Array(unit.length);
  for (let i = 0; i < unit.length; i += 2) {
    points[i] = unit[i] * w;
    points[i + 1] = unit[i + 1] * h;
  }
  const affinity = await scorer.pointAffinity({ classes: [cls], embedding, signal }, points);
  return { affinity, points };
}

/**
 * The semi-axis range of rings for a class: half the smallest exemplar box's half side to one and
 * a half times the largest's, at the size of a width x height image.
 */
export function ringRadii(exemplarParts: readonly (readonly NormalizedBox[])[], width: number, height: number): { minRadius: number; maxRadius: number } {
  let small = Infinity;
  let large = 0;
  for (const parts of exemplarParts) {
    for (const part of parts) {
      const [x0, y0, x1, y1] = denormalizeBox(part, width, height);
      small = Math.min(small, (x1 - x0 + 1) / 2, (y1 - y0 + 1) / 2);
      large = Math.max(large, (x1 - x0 + 1) / 2, (y1 - y0 + 1) / 2);
    }
  }
  const minRadius = Math.max(2, small / 2);
  return { minRadius, maxRadius: Math.max(minRadius, Math.min(large * 1.5, Math.max(width, height) / 2)) };
}

/**
 * Box prompts around the brightest rings of `image` within the radii, one mask each: the box of a
 * ring asks for what it encloses. With SAM's other granularities too (half a head, the brain
 * inside) the fetal heads' held-out means were the same and the worst draw lower (0.861 vs 0.880).
 */
export function ringPrompts(image: RgbImage, radii: { minRadius: number; maxRadius: number }, count: number): ProposalPrompt[] {
  const { width: w, height: h } = image;
  return brightRings(luminanceOfImage(image), { ...radii, count }).map(({ ellipse }) => {
    const [x0, y0, x1, y1] = ellipseBounds(ellipse);
    const box: BoxXYXY = [Math.max(0, Math.round(x0)), Math.max(0, Math.round(y0)), Math.min(w - 1, Math.round(x1)), Math.min(h - 1, Math.round(y1))];
    return { proposer: 'ring', prompt: { box }, multimask: false };
  });
}

/** The proposal prompts for every class described by exemplars. */
export async function proposalPrompts(sam: SamModel, classes: readonly ClassSpec[], options: ProposalOptions): Promise<ProposalPrompt[]> {
  const settings = { ...PROPOSAL_DEFAULTS, ...options };
  const { imageWidth: w, imageHeight: h } = options.embedding.transform;
  const multimask = sam.info.supportsMultimask;
  const prompts: ProposalPrompt[] = [];
  for (const cls of classes) {
    const prior = classPrior(cls);
    if (!prior) continue;
    const parts = cls.topK ?? 1;
    // Each exemplar's own prior, made once for the proposers that read it.
    let ownPriors: ExemplarPrior[] | undefined;
    const eachPrior = () => (ownPriors ??= cls.exemplars!.map((e) => exemplarPrior([e.mask], parts)));
    if (settings.exemplarBox) prompts.push(...priorPrompts(prior, w, h, multimask));
    if (settings.eachExemplarBox && cls.exemplars!.length > 1) {
      for (const own of eachPrior()) prompts.push(...priorPrompts(own, w, h, multimask).map((p) => ({ ...p, proposer: 'exemplar-each-box' })));
    }
    if (settings.similarity && sam.info.supportsPoints && options.scorer) {
      const map = await similarityMap(options.scorer, cls, options.embedding, settings.similarityGrid, options.signal);
      if (map) {
        const regions = alikeRegions(map.affinity, map.points, settings.similarityGrid, parts, settings.similarityLevel);
        prompts.push(...regionPrompts(regions, map.affinity, map.points, multimask));
        if (settings.centredBoxes) prompts.push(...centredBoxPrompts(eachPrior().map((own) => own.parts), regions, w, h, multimask));
      }
    }
    if (settings.rings) {
      if (!options.image) throw new SalipError('INVALID_ARGUMENT', 'proposals: rings needs options.image (the image the embedding is of)');
      prompts.push(...ringPrompts(options.image, ringRadii(eachPrior().map((own) => own.parts), w, h), settings.ringCount));
    }
  }
  return prompts;
}

/**
 * Decodes proposal prompts into pool records (every mask a prompt returns, empty ones dropped),
 * each tagged with its proposer. Records are at the embedding's image size, as segment-everything's.
 */
export async function decodeProposals(sam: SamModel, prompts: readonly ProposalPrompt[], options: { embedding: SamImageEmbedding } & StageControl): Promise<MaskRecord[]> {
  const { embedding } = options;
  const t = embedding.transform;
  const { imageWidth: w, imageHeight: h } = t;
  const records: MaskRecord[] = [];
  let upscale: ReturnType<typeof createThresholdUpscaler> | undefined;
  const mask = createMask(w, h);
  for (const [i, p] of prompts.entries()) {
    throwIfAborted(options.signal, 'proposals');
    const result = await sam.decode(embedding, p.prompt, { multimask: p.multimask });
    upscale ??= createThresholdUpscaler(upscalerGeometry(result.lowResSize, t));
    result.lowResLogits.forEach((logits, m) => {
      const cut = upscale!(logits, 0, 1, mask.data);
      if (cut.area === 0) return;
      records.push({
        segmentation: encodeRleInBox(mask.data, w, h, cut.box, cut.area),
        area: cut.area,
        bbox: boxXyxyToXywh(cut.box),
        predictedIou: result.iouPredictions[m],
        pointCoords: (p.prompt.points ?? []).filter((q) => q.label === 1).map((q) => [q.x, q.y]),
        stabilityScore: cut.stability,
        cropBox: [0, 0, w, h],
        maskIndex: m,
        proposer: p.proposer,
      });
    });
    options.onProgress?.({ stage: 'proposals', done: i + 1, total: prompts.length });
  }
  return records;
}

/** Proposal prompts for the classes, decoded into tagged pool records; `decoderCalls` = prompts decoded. */
export async function proposeCandidates(sam: SamModel, classes: readonly ClassSpec[], options: ProposalOptions): Promise<{ records: MaskRecord[]; decoderCalls: number }> {
  const prompts = await proposalPrompts(sam, classes, options);
  const records = await decodeProposals(sam, prompts, options);
  const limit = numberOption(options.ringDuplicateIoU, 1, 'proposals ringDuplicateIoU', { min: 0, max: 1 });
  return { records: limit < 1 ? withoutDuplicateRings(records, options.existing ?? [], limit) : records, decoderCalls: prompts.length };
}

/** The records without the rings' masks whose box overlaps another candidate's (the pool's or another proposer's) by more than `limit`. */
export function withoutDuplicateRings(records: readonly MaskRecord[], existing: readonly MaskRecord[], limit: number): MaskRecord[] {
  const others = [...existing, ...records.filter((r) => r.proposer !== 'ring')].map((r) => boxXywhToXyxy(r.bbox));
  return records.filter((r) => {
    if (r.proposer !== 'ring') return true;
    const box = boxXywhToXyxy(r.bbox);
    return !others.some((o) => boxIoU(box, o) > limit);
  });
}
