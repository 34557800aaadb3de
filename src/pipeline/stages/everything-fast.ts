/**
 * The fast mode of segment-everything: fewer decoder calls for nearly the same pool. On CPU the
 * decoder call is the cost (each prompt runs the two-way transformer over every image token),
 * so the lever is prompting fewer points:
 * - points go coarse to fine (farthest-point order), so the first prompts spread over the crop;
 * - a point inside a stable, not-too-large candidate found earlier is skipped: it would mostly
 *   return that candidate again;
 * - a crop stops early once a run of prompted points has returned only duplicates;
 * - when a guide says where the target probably is (createSalip builds one from the exemplar
 *   scorer), the points most like the target are always prompted. Without it the early stop
 *   loses candidates that only a few grid points return, and the cascade often retrieves exactly
 *   such a candidate (docs/performance.md).
 */
import { SalipError } from '../../core/errors.js';
import { boxIoU } from '../../core/mask.js';
import type { CropCandidate, CropPrompter } from './crop-candidate.js';

/** Parameters of the fast mode. */
export interface FastEverythingOptions {
  /** A kept candidate covers (skips) the later points inside it only if its stability is at least this. */
  coverStability?: number;
  /** ... and only if its area is at most this fraction of the crop (large masks hold the parts one wants). */
  coverMaxArea?: number;
  /** Which kept candidates of a point cover: its smallest qualifying one, or all qualifying ones. */
  cover?: 'smallest' | 'all';
  /**
   * Stop a crop after this many prompted points in a row returned no new candidate (box IoU with
   * every candidate so far at most `boxNmsThresh`); 0 = never stop early.
   */
  patience?: number;
  /** The stop rule applies only after this fraction of the crop's points were prompted or skipped. */
  minCoverage?: number;
  /**
   * Scores each point of a crop's grid ([x0, y0, x1, y1, ...] in image pixels; higher = more
   * likely on the target); the top `guideFraction` of the points are prompted whatever the skip
   * and stop rules say. createSalip fills it in from the task's scorer when the scorer can
   * (`Scorer.pointAffinity`, the exemplar scorer) and the task does not give one.
   */
  guide?: PointGuide;
  /** Fraction of each crop's points the guide marks as always prompted. */
  guideFraction?: number;
}

/** Scores points (image pixels, x/y pairs) by how likely they lie on the target: one finite value per point. */
export type PointGuide = (points: Float32Array) => Float32Array | number[] | Promise<Float32Array | number[]>;

export type ResolvedFastOptions = Required<Omit<FastEverythingOptions, 'guide'>> & { guide?: PointGuide };

/**
 * Defaults chosen offline on the dev sets (all 16 x 16 decoder outputs cached per image, the
 * fast mode replayed over them, the cascade's retrieval and refinement run on each pool): about
 * a fifth of the points is prompted (19-20 % at 16 x 16); see docs/performance.md.
 */
export const FAST_EVERYTHING_DEFAULTS: Readonly<Required<Omit<FastEverythingOptions, 'guide'>>> = {
  coverStability: 0.9,
  coverMaxArea: 0.25,
  cover: 'smallest',
  patience: 8,
  minCoverage: 0.2,
  guideFraction: 0.12,
};

/** Fills in and validates the fast-mode options. */
export function resolveFastOptions(options: FastEverythingOptions | undefined): ResolvedFastOptions {
  const d = FAST_EVERYTHING_DEFAULTS;
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new SalipError('INVALID_ARGUMENT', `fast: expected an object of fast-mode options, got ${String(options)}`);
  }
  const o = options ?? {};
  const r: ResolvedFastOptions = {
    coverStability: o.coverStability ?? d.coverStability,
    coverMaxArea: o.coverMaxArea ?? d.coverMaxArea,
    cover: o.cover ?? d.cover,
    patience: o.patience ?? d.patience,
    minCoverage: o.minCoverage ?? d.minCoverage,
    guideFraction: o.guideFraction ?? d.guideFraction,
    ...(o.guide !== undefined ? { guide: o.guide } : {}),
  };
  const fraction = (v: number) => typeof v === 'number' && v >= 0 && v <= 1;
  const bad = (name: string, expected: string, got: unknown) =>
    new SalipError('INVALID_ARGUMENT', `fast.${name}: expected ${expected}, got ${JSON.stringify(got)}`);
  if (!fraction(r.coverStability)) throw bad('coverStability', 'a number in [0, 1]', r.coverStability);
  if (!fraction(r.coverMaxArea)) throw bad('coverMaxArea', 'a number in [0, 1]', r.coverMaxArea);
  if (r.cover !== 'smallest' && r.cover !== 'all') throw bad('cover', "'smallest' or 'all'", r.cover);
  if (!(Number.isInteger(r.patience) && r.patience >= 0)) throw bad('patience', 'an integer >= 0', r.patience);
  if (!fraction(r.minCoverage)) throw bad('minCoverage', 'a number in [0, 1]', r.minCoverage);
  if (!fraction(r.guideFraction)) throw bad('guideFraction', 'a number in [0, 1]', r.guideFraction);
  if (r.guide !== undefined && typeof r.guide !== 'function') {
    throw new SalipError('INVALID_ARGUMENT', `fast.guide: expected a function scoring points, got ${typeof r.guide}`);
  }
  return r;
}

/**
 * Grid point indices in farthest-point order: start nearest the centre, then repeatedly the
 * point farthest from every point taken (ties: lower index). Any grid comes out coarse to fine.
 */
export function coarseToFineOrder(grid: Float32Array): Int32Array {
  const n = grid.length / 2;
  const order = new Int32Array(n);
  if (n === 0) return order;
  const nearest = new Float64Array(n).fill(Infinity);
  const taken = new Uint8Array(n);
  let next = 0;
  let best = Infinity;
  for (let p = 0; p < n; p++) {
    const d = (grid[2 * p] - 0.5) ** 2 + (grid[2 * p + 1] - 0.5) ** 2;
    if (d < best) {
      best = d;
      next = p;
    }
  }
  for (let k = 0; k < n; k++) {
    order[k] = next;
    taken[next] = 1;
    const nx = grid[2 * next];
    const ny = grid[2 * next + 1];
    let far = -1;
    let farIndex = -1;
    for (let p = 0; p < n; p++) {
      if (taken[p]) continue;
      const d = (grid[2 * p] - nx) ** 2 + (grid[2 * p + 1] - ny) ** 2;
      if (d < nearest[p]) nearest[p] = d;
      if (nearest[p] > far) {
        far = nearest[p];
        farIndex = p;
      }
    }
    next = farIndex;
  }
  return order;
}

/**
 * The always-prompted points of a crop: the top `fraction` of its grid by the guide's scores (ties:
 * lower index). `grid` is normalised to the crop; the guide sees image pixels.
 */
export async function guidedPoints(
  guide: PointGuide,
  fraction: number,
  grid: Float32Array,
  crop: readonly [number, number, number, number],
): Promise<Uint8Array> {
  const n = grid.length / 2;
  const [x0, y0, x1, y1] = crop;
  const points = new Float32Array(grid.length);
  for (let p = 0; p < n; p++) {
    points[2 * p] = x0 + grid[2 * p] * (x1 - x0);
    points[2 * p + 1] = y0 + grid[2 * p + 1] * (y1 - y0);
  }
  const scores = await guide(points);
  if (!(scores instanceof Float32Array || Array.isArray(scores)) || scores.length !== n || !Array.prototype.every.call(scores, (v: unknown) => typeof v === 'number' && Number.isFinite(v))) {
    throw new SalipError('INVALID_ARGUMENT', `fast.guide: expected ${n} finite scores (one per grid point), got ${describeScores(scores)}`);
  }
  const order = Array.from({ length: n }, (_, p) => p).sort((a, b) => scores[b] - scores[a] || a - b);
  const must = new Uint8Array(n);
  for (let k = 0; k < Math.round(fraction * n); k++) must[order[k]] = 1;
  return must;
}

function describeScores(scores: unknown): string {
  if (scores instanceof Float32Array || Array.isArray(scores)) {
    const bad = Array.prototype.findIndex.call(scores, (v: unknown) => typeof v !== 'number' || !Number.isFinite(v));
    return bad >= 0 ? `${scores.length} values with ${String(scores[bad])} at index ${bad}` : `${scores.length} values`;
  }
  return scores === null ? 'null' : typeof scores;
}

/** Paints a crop-frame RLE (column-major runs) into a row-major coverage map. */
function paintRle(candidate: CropCandidate, covered: Uint8Array, width: number): void {
  const [height] = candidate.rle.size;
  const counts = candidate.rle.counts;
  let pos = 0;
  for (let k = 0; k < counts.length; k++) {
    const end = pos + counts[k];
    if (k % 2 === 1) {
      for (let p = pos; p < end; p++) {
        const x = (p / height) | 0;
        covered[(p - x * height) * width + x] = 1;
      }
    }
    pos = end;
  }
}

/**
 * A prompter that hands back each point's judging still under way (segment-everything's, when
 * the masks are judged in a worker): collectFast then decodes guided points ahead while it waits.
 */
export interface PipelinedCropPrompter {
  submit(px: number, py: number): Promise<{ judging: Promise<CropCandidate[]> }>;
  /** Decodes and judges on the calling thread: used once no guided point is left to decode ahead. */
  prompt: CropPrompter;
}

/**
 * Prompts a crop's grid points coarse to fine, skipping covered points and stopping early as the
 * options say; returns the candidates in prompt order (the caller runs the crop's NMS).
 * `mustPrompt` (one flag per grid point) marks points that are prompted whatever the skip and
 * stop rules say (the guided points). `onPoint` is called once per prompted point.
 *
 * With a pipelined prompter, a guided point never waits for the judging of earlier points (it is
 * prompted whatever they returned), and while an unguided point waits for them (to know whether
 * it is covered, or the crop stopped), the next guided point is decoded ahead; once none is left,
 * unguided points are judged on the calling thread (waiting for the worker would be slower).
 * The results are applied in the same order, so the candidates are the same as with a plain
 * prompter.
 */
export async function collectFast(
  grid: Float32Array,
  cropW: number,
  cropH: number,
  prompt: CropPrompter | PipelinedCropPrompter,
  options: ResolvedFastOptions & { boxNmsThresh: number },
  onPoint: () => void,
  mustPrompt?: Uint8Array,
): Promise<CropCandidate[]> {
  const order = coarseToFineOrder(grid);
  const covered = new Uint8Array(cropW * cropH);
  const maxCoverArea = options.coverMaxArea * cropW * cropH;
  const candidates: CropCandidate[] = [];
  const isMust = (p: number) => mustPrompt !== undefined && mustPrompt[p] !== 0;
  const pointOf = (p: number): [number, number] => [grid[2 * p] * cropW, grid[2 * p + 1] * cropH];

  /** A prompted point whose candidates are not applied yet; `visited` counts the points visited up to it. */
  interface Pending {
    judging: Promise<CropCandidate[]>;
    settled: boolean;
    visited: number;
  }
  const start = async (p: number, visited: number): Promise<Pending> => {
    if (typeof prompt === 'function') return { judging: Promise.resolve(await prompt(...pointOf(p))), settled: true, visited };
    // With nothing left to decode while the worker judges, the next decision would just wait for
    // it (message round trip included): judging here is quicker.
    if (!isMust(p) && !guidedLeft(visited)) return { judging: Promise.resolve(await prompt.prompt(...pointOf(p))), settled: true, visited };
    const { judging } = await prompt.submit(...pointOf(p));
    const pending: Pending = { judging, settled: false, visited };
    // Awaited when its turn comes; until then a failure must not count as unhandled.
    judging.then(
      () => (pending.settled = true),
      () => (pending.settled = true),
    );
    return pending;
  };
  const queue: Pending[] = [];
  const ahead = new Map<number, Pending>();
  let aheadFrom = 0; // where in the order to look for the next guided point to decode ahead
  let sinceNew = 0;
  let stopped = false;

  /** Whether a guided point at `from` or later in the order has not been decoded yet. */
  const guidedLeft = (from: number) => {
    aheadFrom = Math.max(aheadFrom, from);
    while (aheadFrom < order.length && !isMust(order[aheadFrom])) aheadFrom++;
    return aheadFrom < order.length;
  };
  const decodeGuidedAhead = async (position: number) => {
    if (guidedLeft(position + 1)) {
      ahead.set(order[aheadFrom], await start(order[aheadFrom], aheadFrom + 1));
      aheadFrom++;
    }
  };
  /** Applies every queued point's candidates in order, then updates the stop rule. */
  const applyQueued = async (position: number) => {
    // A decode ahead keeps the model busy while the last judging finishes; it is never wasted,
    // as guided points are prompted whatever happens.
    if (queue.length > 0 && !queue[queue.length - 1].settled) await decodeGuidedAhead(position);
    for (const pending of queue.splice(0)) {
      const found = await pending.judging;
      onPoint();
      let anyNew = false;
      for (const c of found) {
        if (!anyNew && candidates.every((o) => boxIoU(o.box, c.box) <= options.boxNmsThresh)) anyNew = true;
        candidates.push(c);
      }
      const covers = found.filter((c) => c.stabilityScore >= options.coverStability && c.area <= maxCoverArea);
      if (options.cover === 'smallest' && covers.length > 1) {
        let smallest = covers[0];
        for (const c of covers) if (c.area < smallest.area) smallest = c;
        paintRle(smallest, covered, cropW);
      } else for (const c of covers) paintRle(c, covered, cropW);
      sinceNew = anyNew ? 0 : sinceNew + 1;
      if (options.patience > 0 && sinceNew >= options.patience && pending.visited >= options.minCoverage * order.length) stopped = true;
    }
  };

  for (let position = 0; position < order.length; position++) {
    const p = order[position];
    const visited = position + 1;
    if (isMust(p)) {
      // Prompted whatever the earlier points returned: no need to wait for them.
      queue.push(ahead.get(p) ?? (await start(p, visited)));
      ahead.delete(p);
      continue;
    }
    // An unguided point depends on everything before it.
    await applyQueued(position);
    // Past the stop only the guided points are still prompted.
    if (stopped && mustPrompt === undefined) break;
    if (stopped) continue;
    const [px, py] = pointOf(p);
    const ix = Math.min(cropW - 1, Math.max(0, Math.floor(px)));
    const iy = Math.min(cropH - 1, Math.max(0, Math.floor(py)));
    if (covered[iy * cropW + ix] !== 0) continue;
    queue.push(await start(p, visited));
  }
  await applyQueued(order.length);
  return candidates;
}
