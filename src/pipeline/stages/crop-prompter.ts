/**
 * segment-everything's per-point work inside one crop: decode a grid point (or a batch of them),
 * judge its masks (IoU, stability, crop edges; on a worker when the candidate maker runs
 * concurrently), and move kept masks from the crop frame into the image frame.
 */
import { createCandidateJobRunner, upscalerGeometry, type CandidateFilter, type CandidateOutcome } from '../../core/everything/index.js';
import type { BoxXYXY, CocoRle } from '../../core/types.js';
import type { SamDecodeResult, SamImageEmbedding, SamModel } from '../types.js';
import type { CandidateMaker } from './candidate-makers.js';
import type { CropCandidate, CropPrompter } from './crop-candidate.js';
import type { ResolvedSegmentEverythingOptions, SegmentEverythingStats } from './everything-options.js';

/**
 * Prompts every grid point of a crop in grid order (the reference's order). The masks of a call
 * are judged while the next points are decoded when the judging runs elsewhere; at most
 * MAX_JUDGING_IN_FLIGHT calls wait to be judged, so memory stays bounded.
 */
export async function collectExact(
  grid: Float32Array,
  cropW: number,
  cropH: number,
  prompter: CropPrompters,
  onPoint: () => void,
  promptsPerRun: number,
): Promise<CropCandidate[]> {
  const judged: Array<Promise<CropCandidate[]>> = [];
  let waited = 0;
  const count = grid.length / 2;
  for (let p = 0; p < count; p += promptsPerRun) {
    const points: Array<[number, number]> = [];
    for (let q = p; q < Math.min(count, p + promptsPerRun); q++) points.push([grid[2 * q] * cropW, grid[2 * q + 1] * cropH]);
    const submitted = points.length === 1 ? [await prompter.submit(...points[0])] : await prompter.submitBatch(points);
    for (const { judging } of submitted) {
      // Awaited below; until then a failure must not count as unhandled.
      judging.catch(() => {});
      judged.push(judging);
      onPoint();
    }
    while (judged.length - waited > Math.max(MAX_JUDGING_IN_FLIGHT, promptsPerRun)) await judged[waited++];
  }
  return (await Promise.all(judged)).flat();
}

/** Calls whose masks may wait to be judged in exact mode (each holds up to 3 low-res maps, 0.8 MB). */
const MAX_JUDGING_IN_FLIGHT = 16;

/** The per-point work of one crop: decode and judge (`prompt`), or hand back the judging under way (`submit`). */
export interface CropPrompters {
  /** Decodes a point and judges its masks before resolving. */
  prompt: CropPrompter;
  /** Decodes a point; resolves, once decoded, with the judging of its masks still under way. */
  submit(px: number, py: number): Promise<{ judging: Promise<CropCandidate[]> }>;
  /** The same for several points decoded in one run (SamModel.decodeBatch). */
  submitBatch(points: ReadonlyArray<[number, number]>): Promise<Array<{ judging: Promise<CropCandidate[]> }>>;
}

/**
 * The per-point work of one crop: decode, IoU filter on the decoder's scores (no pixels needed),
 * then for the survivors only: upscale, threshold, stability and box in one pass (pixels far
 * from the cut-offs are decided on the low-res logits), crop-edge filter, RLE
 * (createCandidateJudge). Buffers are allocated once per crop.
 */
export function createCropPrompter(
  sam: SamModel,
  embedding: SamImageEmbedding,
  cropBox: BoxXYXY,
  imageBox: BoxXYXY,
  opts: ResolvedSegmentEverythingOptions,
  stats: SegmentEverythingStats,
  maker: CandidateMaker | undefined,
): CropPrompters {
  const t = embedding.transform;
  const filter: CandidateFilter = {
    maskThreshold: opts.maskThreshold,
    stabilityScoreOffset: opts.stabilityScoreOffset,
    stabilityScoreThresh: opts.stabilityScoreThresh,
    cropBox,
    imageBox,
  };
  const local = createCandidateJobRunner();
  const collect = (px: number, py: number, ious: number[], maskIndices: number[], outcomes: CandidateOutcome[]): CropCandidate[] => {
    const kept: CropCandidate[] = [];
    outcomes.forEach((outcome, k) => {
      if (!outcome.kept && outcome.droppedBy === 'stability') return;
      stats.afterStability++;
      if (!outcome.kept) return;
      stats.afterEdge++;
      kept.push({
        rle: outcome.rle,
        area: outcome.area,
        box: outcome.box,
        predictedIou: ious[k],
        stabilityScore: outcome.stability,
        point: [px, py],
        maskIndex: maskIndices[k],
      });
    });
    return kept;
  };
  const decode = async (px: number, py: number) =>
    prepare(
      opts.proposals === 'boxes'
        ? await decodeBoxProposals(sam, embedding, px, py, opts.boxScales)
        : await sam.decode(embedding, { points: [{ x: px, y: py, label: 1 }] }, { multimask: opts.multimask }),
    );
  const prepare = (result: SamDecodeResult) => {
    // Box proposals run one decode per box scale.
    stats.decoderCalls += opts.proposals === 'boxes' ? opts.boxScales.length : 1;
    const logits: Float32Array[] = [];
    const ious: number[] = [];
    const maskIndices: number[] = [];
    for (let m = 0; m < result.lowResLogits.length; m++) {
      stats.rawMasks++;
      const iou = result.iouPredictions[m];
      if (!(iou > opts.predIouThresh)) continue;
      stats.afterIou++;
      logits.push(result.lowResLogits[m]);
      ious.push(iou);
      maskIndices.push(m);
    }
    return { job: { geometry: upscalerGeometry(result.lowResSize, t), filter, logits }, ious, maskIndices };
  };
  const judge = (px: number, py: number, { job, ious, maskIndices }: ReturnType<typeof prepare>) => {
    if (!maker?.concurrent || job.logits.length === 0) {
      return { judging: Promise.resolve(collect(px, py, ious, maskIndices, local(job))) };
    }
    return { judging: maker.judge(job).then((outcomes) => collect(px, py, ious, maskIndices, outcomes)) };
  };
  return {
    async prompt(px, py) {
      const { job, ious, maskIndices } = await decode(px, py);
      return collect(px, py, ious, maskIndices, local(job));
    },
    async submit(px, py) {
      return judge(px, py, await decode(px, py));
    },
    async submitBatch(points) {
      const results = await sam.decodeBatch!(embedding, points.map(([x, y]) => ({ x, y, label: 1 as const })), { multimask: opts.multimask });
      return results.map((result, k) => judge(points[k][0], points[k][1], prepare(result)));
    },
  };
}

/**
 * Box proposals for a boxes-only SAM: square boxes of `scales` x the crop's shorter side centred on
 * (px, py), clipped to the crop, one single-mask decode each; their masks come back as one result
 * whose mask k is scale k's (so MaskRecord.maskIndex names the scale).
 */
export async function decodeBoxProposals(
  sam: SamModel,
  embedding: SamImageEmbedding,
  px: number,
  py: number,
  scales: readonly number[],
): Promise<SamDecodeResult> {
  const { imageWidth: w, imageHeight: h } = embedding.transform;
  const results: SamDecodeResult[] = [];
  for (const scale of scales) {
    const half = (scale * Math.min(w, h)) / 2;
    const box: BoxXYXY = [Math.max(0, px - half), Math.max(0, py - half), Math.min(w, px + half), Math.min(h, py + half)];
    results.push(await sam.decode(embedding, { box }, { multimask: false }));
  }
  return {
    lowResLogits: results.map((r) => r.lowResLogits[0]),
    iouPredictions: Float32Array.from(results, (r) => r.iouPredictions[0]),
    lowResSize: results[0].lowResSize,
  };
}

/** Moves a crop-frame RLE into the image frame (zeros outside the crop) without decoding it. */
export function uncropRle(rle: CocoRle, cropBox: BoxXYXY, width: number, height: number): CocoRle {
  const [x0, y0] = cropBox;
  const [cropH, cropW] = rle.size;
  const counts: number[] = [];
  // Runs are appended with merging, so the output keeps COCO's alternation (0-runs at even indices).
  let value = 0;
  let run = 0;
  const push = (v: number, length: number) => {
    if (length === 0) return;
    if (v === value) run += length;
    else {
      counts.push(run);
      value = v;
      run = length;
    }
  };
  push(0, x0 * height);
  let k = 0;
  let left = rle.counts[0] ?? 0;
  for (let x = 0; x < cropW; x++) {
    push(0, y0);
    let need = cropH;
    while (need > 0) {
      while (left === 0) left = rle.counts[++k];
      const take = Math.min(left, need);
      push(k % 2, take);
      left -= take;
      need -= take;
    }
    push(0, height - y0 - cropH);
  }
  push(0, (width - x0 - cropW) * height);
  counts.push(run);
  return { size: [height, width], counts };
}
