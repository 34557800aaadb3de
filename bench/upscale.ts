/**
 * The threshold upscaler on real MobileSAM logits: createThresholdUpscaler against the version
 * before its 2-D window test (a frozen copy at the bottom), timed in the same run over every
 * low-res map of a 16 x 16 multi-mask point grid on 2 dev images per task at 256 x 256 (as
 * evaluate() prepares them), with segment-everything's threshold and stability offset. Both
 * must decide every map exactly as thresholding createLogitUpscaler's logits: the run throws
 * otherwise.
 *
 *   npx tsx bench/upscale.ts [--images-per-task 2] [--runs 7]
 *
 * Prints ms per map (medians over the timed passes, after a warm-up pass), their ratio, and the
 * share of output pixels each version interpolates. About 3 minutes on the 2-core dev machine,
 * half of it decoding; needs ~1.3 GB for the 4608 maps. Other jobs on the machine move the
 * times, less their ratio: rerun when the ratio moves.
 */
import { parseArgs } from 'node:util';
import { defaultSamFiles } from '../src/backends/default-models.js';
import { nodeBackend } from '../src/backends/node.js';
import { assertArgument } from '../src/core/errors.js';
import {
  createLogitUpscaler,
  createThresholdUpscaler,
  pointGrid,
  stabilityScore,
  upscalerGeometry,
  type LogitUpscalerGeometry,
  type ThresholdUpscaler,
  type UpscaledMaskStats,
} from '../src/core/everything/index.js';
import { composeAxis } from '../src/core/everything/upscale.js';
import { DECISION_MARGIN } from '../src/core/everything/threshold-upscale.js';
import { maskArea, maskFromLogits, maskToBox } from '../src/core/mask.js';
import { prepareEvalItem } from '../src/pipeline/evaluate.js';
import { createSamModel } from '../src/models/sam/sam.js';
import { SEGMENT_EVERYTHING_DEFAULTS } from '../src/pipeline/stages/segment-everything.js';
import { DEV_TASKS, devNames, loadDevItem, median, now, spreadSubset } from './harness.js';

const { values: args } = parseArgs({ options: { 'images-per-task': { type: 'string', default: '2' }, runs: { type: 'string', default: '7' } } });
const IMAGES_PER_TASK = Number(args['images-per-task']);
const RUNS = Number(args.runs);
const SIZE = 256;
const POINTS_PER_SIDE = 16;
const THRESHOLD = SEGMENT_EVERYTHING_DEFAULTS.maskThreshold;
const OFFSET = SEGMENT_EVERYTHING_DEFAULTS.stabilityScoreOffset;

/** Output pixels the version before interpolated (the rest it decided from the low-res logits). */
const interpolated = { before: 0 };

/** Every low-res map (3 per grid point) of the dev images, the geometry they share, and decoder times. */
async function collectMaps(): Promise<{ maps: Float32Array[]; geometry: LogitUpscalerGeometry; decodeMs: number[] }> {
  const sam = await createSamModel(nodeBackend(), defaultSamFiles());
  const grid = pointGrid(POINTS_PER_SIDE);
  const maps: Float32Array[] = [];
  const decodeMs: number[] = [];
  let geometry: LogitUpscalerGeometry | undefined;
  for (const task of DEV_TASKS) {
    for (const name of spreadSubset(devNames(task), IMAGES_PER_TASK)) {
      const { image } = prepareEvalItem(loadDevItem(task, name), SIZE);
      const embedding = await sam.embed(image);
      for (let p = 0; p < grid.length / 2; p++) {
        const point = { x: grid[2 * p] * image.width, y: grid[2 * p + 1] * image.height, label: 1 as const };
        const start = now();
        const result = await sam.decode(embedding, { points: [point] }, { multimask: true });
        decodeMs.push(now() - start);
        geometry ??= upscalerGeometry(result.lowResSize, embedding.transform);
        for (const logits of result.lowResLogits) maps.push(logits.slice());
      }
      process.stderr.write(`${task} ${name}: ${maps.length} maps\n`);
    }
  }
  await sam.dispose();
  return { maps, geometry: geometry!, decodeMs };
}

/**
 * An upscaler built as segment-everything builds them: one per image (per crop), so V8 sees
 * several closures of the factory. A lone closure gets its buffers folded in as constants and
 * runs faster than it does in the pipeline; two throwaway builds first avoid timing that.
 */
function buildAsInThePipeline(build: (g: LogitUpscalerGeometry) => ThresholdUpscaler, geometry: LogitUpscalerGeometry): ThresholdUpscaler {
  build(geometry);
  build(geometry);
  return build(geometry);
}

/** Throws unless both versions and the plain path (full logits, then threshold) agree on every map. */
function checkIdentical(maps: Float32Array[], geometry: LogitUpscalerGeometry, versions: Record<string, ThresholdUpscaler>): void {
  const plain = createLogitUpscaler(geometry);
  const out = new Uint8Array(geometry.outWidth * geometry.outHeight);
  maps.forEach((lowRes, i) => {
    const logits = plain(lowRes);
    const mask = maskFromLogits(logits, geometry.outWidth, geometry.outHeight, THRESHOLD);
    const expected: UpscaledMaskStats = { area: maskArea(mask), box: maskToBox(mask), stability: stabilityScore(logits, THRESHOLD, OFFSET) };
    for (const [label, upscale] of Object.entries(versions)) {
      const got = upscale(lowRes, THRESHOLD, OFFSET, out);
      const same =
        got.area === expected.area && got.stability === expected.stability && got.box.every((v, k) => v === expected.box[k]) && out.every((v, k) => v === mask.data[k]);
      if (!same) throw new Error(`map ${i}: ${label} differs from the plain path (${JSON.stringify(got)} vs ${JSON.stringify(expected)})`);
    }
  });
}

/**
 * Share of output pixels whose low-res tap window mixes classes (not all surely below, not all
 * surely above both cut-offs): the pixels createThresholdUpscaler interpolates.
 */
function mixedWindowShare(maps: Float32Array[], geometry: LogitUpscalerGeometry): number {
  const { lowResSize: n, inputSize, resizedWidth, resizedHeight, outWidth, outHeight } = geometry;
  const x = composeAxis(n, inputSize, resizedWidth, outWidth);
  const y = composeAxis(n, inputSize, resizedHeight, outHeight);
  const sureLow = Math.min(THRESHOLD + OFFSET, THRESHOLD - OFFSET) - DECISION_MARGIN;
  const sureHigh = Math.max(THRESHOLD + OFFSET, THRESHOLD - OFFSET) + DECISION_MARGIN;
  let mixed = 0;
  for (const lowRes of maps) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        let below = true;
        let above = true;
        for (let r = y.start[oy]; r < y.start[oy] + y.taps; r++) {
          for (let c = x.start[ox]; c < x.start[ox] + x.taps; c++) {
            const v = lowRes[r * n + c];
            if (!(v <= sureLow)) below = false;
            if (!(v > sureHigh && v < Infinity)) above = false;
          }
        }
        if (!below && !above) mixed++;
      }
    }
  }
  return mixed / (maps.length * outWidth * outHeight);
}

/**
 * Median ms per map of each version over RUNS timed passes (after a warm-up pass), the versions
 * taking turns map by map (so that a change in the machine's load hits both alike). Each map is
 * copied just before it is timed: in the pipeline the decoder has just written it, so it is in
 * cache, not in memory behind the other maps' 1.2 GB.
 */
function timeVersions(maps: Float32Array[], geometry: LogitUpscalerGeometry, versions: Record<string, ThresholdUpscaler>): Record<string, number> {
  const out = new Uint8Array(geometry.outWidth * geometry.outHeight);
  const fresh = new Float32Array(geometry.lowResSize ** 2);
  const labels = Object.keys(versions);
  const times: Record<string, number[]> = Object.fromEntries(labels.map((k) => [k, []]));
  for (let run = -1; run < RUNS; run++) {
    const ms: Record<string, number> = Object.fromEntries(labels.map((k) => [k, 0]));
    maps.forEach((lowRes, i) => {
      for (const label of i % 2 === 0 ? labels : [...labels].reverse()) {
        fresh.set(lowRes);
        const start = now();
        versions[label](fresh, THRESHOLD, OFFSET, out);
        ms[label] += now() - start;
      }
    });
    if (run >= 0) for (const label of labels) times[label].push(ms[label] / maps.length);
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

// ---- The version before the 2-D window test, frozen (the axis weights and margin are the library's, unchanged since). ----

/**
 * One low-res row resampled to output columns from..to: sum over taps in order from 0, as
 * createLogitUpscaler's x pass (2 and 3 taps written out, the same left-to-right additions).
 */
function resampleRow(
  lowRes: Float32Array,
  inRow: number,
  rows: Float64Array,
  outRow: number,
  from: number,
  to: number,
  xStart: Int32Array,
  xTaps: number,
  xWeights: Float64Array,
): void {
  if (xTaps === 3) {
    for (let ox = from; ox <= to; ox++) {
      const src = inRow + xStart[ox];
      const w = ox * 3;
      rows[outRow + ox] = xWeights[w] * lowRes[src] + xWeights[w + 1] * lowRes[src + 1] + xWeights[w + 2] * lowRes[src + 2];
    }
  } else if (xTaps === 2) {
    for (let ox = from; ox <= to; ox++) {
      const src = inRow + xStart[ox];
      const w = ox * 2;
      rows[outRow + ox] = xWeights[w] * lowRes[src] + xWeights[w + 1] * lowRes[src + 1];
    }
  } else {
    for (let ox = from; ox <= to; ox++) {
      const src = inRow + xStart[ox];
      const w = ox * xTaps;
      let sum = 0;
      for (let t = 0; t < xTaps; t++) sum += xWeights[w + t] * lowRes[src + t];
      rows[outRow + ox] = sum;
    }
  }
}

/**
 * createThresholdUpscaler before the 2-D window test (commit 1f522ac): per low-res row the span
 * not surely below and the longest run surely above. Kept verbatim but for the name and one
 * per-row count of the pixels it interpolates (added to `interpolated.before`).
 */
function thresholdUpscalerBefore(p: LogitUpscalerGeometry): ThresholdUpscaler {
  const { lowResSize: n, inputSize, resizedWidth, resizedHeight, outWidth, outHeight } = p;
  const { start: xStart, taps: xTaps, weights: xWeights } = composeAxis(n, inputSize, resizedWidth, outWidth);
  const { start: yStart, taps: yTaps, weights: yWeights } = composeAxis(n, inputSize, resizedHeight, outHeight);
  const lowLength = n * n;
  const outLength = outWidth * outHeight;
  // Output columns whose taps reach low-res column c or beyond: from firstReaching[c]; whose taps
  // start at or before c: up to lastStarting[c] (starts grow with ox).
  const firstReaching = new Int32Array(n).fill(outWidth);
  const lastStarting = new Int32Array(n).fill(-1);
  for (let ox = outWidth - 1; ox >= 0; ox--) {
    for (let c = xStart[ox]; c < xStart[ox] + xTaps; c++) firstReaching[c] = ox;
  }
  for (let ox = 0; ox < outWidth; ox++) lastStarting[xStart[ox]] = ox;
  for (let c = 1; c < n; c++) if (lastStarting[c] < lastStarting[c - 1]) lastStarting[c] = lastStarting[c - 1];
  for (let c = n - 2; c >= 0; c--) if (firstReaching[c] > firstReaching[c + 1]) firstReaching[c] = firstReaching[c + 1];
  // Per low-res row: first and last column not surely below (first > last: none).
  const rowFirst = new Int32Array(n);
  const rowLast = new Int32Array(n);
  // Per low-res row: the longest run of columns surely above both cut-offs.
  const highFirst = new Int32Array(n);
  const highLast = new Int32Array(n);
  // Output columns whose taps all lie in low-res columns >= c: from firstStartingAt[c]; <= c: up to lastEndingAt[c].
  const firstStartingAt = new Int32Array(n + 1).fill(outWidth);
  const lastEndingAt = new Int32Array(n).fill(-1);
  for (let ox = outWidth - 1; ox >= 0; ox--) firstStartingAt[xStart[ox]] = ox;
  for (let c = n - 1; c >= 0; c--) if (firstStartingAt[c] > firstStartingAt[c + 1]) firstStartingAt[c] = firstStartingAt[c + 1];
  for (let ox = 0; ox < outWidth; ox++) lastEndingAt[xStart[ox] + xTaps - 1] = ox;
  for (let c = 1; c < n; c++) if (lastEndingAt[c] < lastEndingAt[c - 1]) lastEndingAt[c] = lastEndingAt[c - 1];
  const rowsResampled = new Float64Array(n * outWidth);
  const reach = yTaps - 1;

  return (lowRes, threshold, offset, out) => {
    assertArgument(lowRes instanceof Float32Array && lowRes.length === lowLength, 'lowRes', `a Float32Array of lowResSize^2 = ${lowLength} logits`, lowRes);
    assertArgument(out instanceof Uint8Array && out.length === outLength, 'out', `a Uint8Array of ${outLength}`, out);
    assertArgument(Number.isFinite(threshold) && Number.isFinite(offset), 'threshold and offset', 'finite numbers', [threshold, offset]);
    const high = threshold + offset;
    const low = threshold - offset;
    const sureLow = Math.min(high, low) - DECISION_MARGIN;
    const sureHigh = Math.max(high, low) + DECISION_MARGIN;
    // One pass per low-res row: the span not surely below, and the longest run surely above.
    for (let r = 0; r < n; r++) {
      const row = r * n;
      let first = n;
      let last = -1;
      let bestFirst = 0;
      let bestLength = 0;
      let runStart = -1;
      for (let c = 0; c < n; c++) {
        const v = lowRes[row + c];
        // `!(v <= sureLow)` keeps NaN in the span, where it is interpolated like any value.
        if (!(v <= sureLow)) {
          if (first === n) first = c;
          last = c;
        }
        if (v > sureHigh) {
          if (runStart < 0) runStart = c;
        } else if (runStart >= 0) {
          if (c - runStart > bestLength) {
            bestLength = c - runStart;
            bestFirst = runStart;
          }
          runStart = -1;
        }
      }
      if (runStart >= 0 && n - runStart > bestLength) {
        bestLength = n - runStart;
        bestFirst = runStart;
      }
      rowFirst[r] = first;
      rowLast[r] = last;
      highFirst[r] = bestFirst;
      highLast[r] = bestFirst + bestLength - 1;
    }
    // x pass: row r serves the windows of output rows whose taps start in r - reach .. r, so it
    // is resampled over the output columns reaching the union of the spans of r - reach .. r + reach.
    for (let r = 0; r < n; r++) {
      let lo = n;
      let hi = -1;
      // Columns surely above in every row of the neighbourhood are inside every window that
      // reads row r: the y pass never interpolates there, so neither does the x pass.
      let h0 = 0;
      let h1 = n - 1;
      for (let q = Math.max(0, r - reach), qEnd = Math.min(n - 1, r + reach); q <= qEnd; q++) {
        if (rowFirst[q] < lo) lo = rowFirst[q];
        if (rowLast[q] > hi) hi = rowLast[q];
        if (highFirst[q] > h0) h0 = highFirst[q];
        if (highLast[q] < h1) h1 = highLast[q];
      }
      if (lo > hi) continue;
      const from = firstReaching[lo];
      const to = lastStarting[hi];
      const skipFrom = h0 <= h1 ? Math.max(from, firstStartingAt[h0]) : to + 1;
      const skipTo = h0 <= h1 ? Math.min(to, lastEndingAt[h1]) : to;
      if (skipFrom > skipTo) resampleRow(lowRes, r * n, rowsResampled, r * outWidth, from, to, xStart, xTaps, xWeights);
      else {
        resampleRow(lowRes, r * n, rowsResampled, r * outWidth, from, skipFrom - 1, xStart, xTaps, xWeights);
        resampleRow(lowRes, r * n, rowsResampled, r * outWidth, skipTo + 1, to, xStart, xTaps, xWeights);
      }
    }
    out.fill(0);
    let inHigh = 0;
    let inLow = 0;
    let area = 0;
    let x0 = outWidth;
    let y0 = -1;
    let x1 = -1;
    let y1 = -1;
    for (let oy = 0; oy < outHeight; oy++) {
      const ys = yStart[oy];
      let spanLo = n;
      let spanHi = -1;
      for (let k = 0; k < yTaps; k++) {
        if (rowFirst[ys + k] < spanLo) spanLo = rowFirst[ys + k];
        if (rowLast[ys + k] > spanHi) spanHi = rowLast[ys + k];
      }
      if (spanLo > spanHi) continue;
      const from = firstReaching[spanLo];
      const to = lastStarting[spanHi];
      // Output columns whose taps all lie in a run surely above in every row of the window are
      // above all three cut-offs: no interpolation needed there.
      let innerFrom = to + 1;
      let innerTo = to;
      let h0 = 0;
      let h1 = n - 1;
      for (let k = 0; k < yTaps; k++) {
        if (highFirst[ys + k] > h0) h0 = highFirst[ys + k];
        if (highLast[ys + k] < h1) h1 = highLast[ys + k];
      }
      if (h0 <= h1 && firstStartingAt[h0] <= lastEndingAt[h1]) {
        innerFrom = firstStartingAt[h0];
        innerTo = lastEndingAt[h1];
      }
      // y pass as createLogitUpscaler: the taps added in order from 0, zero weights skipped
      // (written out for up to three taps: 0 + x is x, and a signed zero decides alike).
      let taps = 0;
      let wA = 0;
      let wB = 0;
      let wC = 0;
      let rA = 0;
      let rB = 0;
      let rC = 0;
      for (let k = 0; k < yTaps; k++) {
        const weight = yWeights[oy * yTaps + k];
        if (weight === 0) continue;
        const offset = (ys + k) * outWidth;
        if (taps === 0) {
          wA = weight;
          rA = offset;
        } else if (taps === 1) {
          wB = weight;
          rB = offset;
        } else if (taps === 2) {
          wC = weight;
          rC = offset;
        }
        taps++;
      }
      const row = oy * outWidth;
      let first = -1;
      let last = -1;
      interpolated.before += to - from + 1;
      for (let ox = from; ox <= to; ox++) {
        if (ox === innerFrom) {
          const count = innerTo - innerFrom + 1;
          interpolated.before -= count;
          out.fill(1, row + innerFrom, row + innerTo + 1);
          inHigh += count;
          inLow += count;
          area += count;
          if (first < 0) first = innerFrom;
          last = innerTo;
          ox = innerTo;
          continue;
        }
        let acc: number;
        if (taps === 3) acc = wA * rowsResampled[rA + ox] + wB * rowsResampled[rB + ox] + wC * rowsResampled[rC + ox];
        else if (taps === 2) acc = wA * rowsResampled[rA + ox] + wB * rowsResampled[rB + ox];
        else if (taps === 1) acc = wA * rowsResampled[rA + ox];
        else {
          acc = 0;
          for (let k = 0; k < yTaps; k++) {
            const weight = yWeights[oy * yTaps + k];
            if (weight !== 0) acc += weight * rowsResampled[(ys + k) * outWidth + ox];
          }
        }
        const v = Math.fround(acc);
        if (v > high) inHigh++;
        if (v > low) inLow++;
        if (v > threshold) {
          out[row + ox] = 1;
          area++;
          if (first < 0) first = ox;
          last = ox;
        }
      }
      if (first < 0) continue;
      if (y0 < 0) y0 = oy;
      y1 = oy;
      if (first < x0) x0 = first;
      if (last > x1) x1 = last;
    }
    return { area, box: x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1, y1], stability: inLow === 0 ? 0 : inHigh / inLow };
  };
}

// ---- The run. ----

const { maps, geometry, decodeMs } = await collectMaps();
checkIdentical(maps, geometry, { before: thresholdUpscalerBefore(geometry), after: createThresholdUpscaler(geometry) });
const before = buildAsInThePipeline(thresholdUpscalerBefore, geometry);
const after = buildAsInThePipeline(createThresholdUpscaler, geometry);
const out = new Uint8Array(geometry.outWidth * geometry.outHeight);
interpolated.before = 0;
for (const lowRes of maps) before(lowRes, THRESHOLD, OFFSET, out);
const beforeShare = interpolated.before / (maps.length * geometry.outWidth * geometry.outHeight);
const afterShare = mixedWindowShare(maps, geometry);
const ms = timeVersions(maps, geometry, { before, after });
const decode = median(decodeMs);
console.log(`${maps.length} maps of ${geometry.lowResSize}^2 -> ${geometry.outWidth} x ${geometry.outHeight}, threshold ${THRESHOLD}, offset ${OFFSET}: identical masks, areas, boxes and stability`);
console.log(`before: ${ms.before.toFixed(4)} ms per map, interpolates ${(100 * beforeShare).toFixed(1)} % of the pixels`);
console.log(`after:  ${ms.after.toFixed(4)} ms per map, interpolates ${(100 * afterShare).toFixed(1)} % of the pixels`);
console.log(`after / before: ${(ms.after / ms.before).toFixed(3)} (${(ms.before / ms.after).toFixed(2)}x faster)`);
console.log(`decoder: ${decode.toFixed(2)} ms per call (median); its 3 maps upscaled: before ${((300 * ms.before) / decode).toFixed(1)} %, after ${((300 * ms.after) / decode).toFixed(1)} % of that`);
