/**
 * Where a propagated volume's time goes, cheaply: a slab of ch2.nii.gz around the middle,
 * segmented by propagation (or slice by slice), with every encoder run, decoder call and cascade
 * counted and timed per slice, and each slice's provenance (key slice, carried, re-run and why).
 *
 *   tsx bench/volume-probe.ts [--slab 24 | --slices 60-120,0-20] [--step k] [--options JSON]
 *                             [--mode propagate|per-slice] [--per-slice-subset 0]
 *
 * --slab 181 is the whole of ch2. --slices takes index ranges instead (the walk starts from the
 * middle of them; a gap between ranges starts a new walk with the cascade). --options is
 * PropagationOptions as JSON, over --step ('"Infinity"' for Infinity), or a JSON list of them:
 * one propagated run each, in the same process, all compared with the one per-slice subset. --per-slice-subset n then also runs the cascade on n evenly
 * spread non-blank slices of the slab and extrapolates the per-slice time to all of them. Each
 * slice's record (stability and predicted IoU of carried masks, the reason of a re-run) is printed
 * at the end; a progress line with the counters after every slice.
 */
import { parseArgs } from 'node:util';
import { defaultSamFiles } from '../src/backends/default-models.js';
import { nodeBackend } from '../src/backends/node.js';
import { createSalip } from '../src/pipeline/salip.js';
import { prepareVolumeRun, segmentVolume, type PropagationOptions } from '../src/pipeline/volume.js';
import { now, spreadSubset } from './harness.js';
import { brainTask, loadBrainVolume, volumeDice } from './volume-speed.js';

const { values: args } = parseArgs({
  options: {
    slab: { type: 'string', default: '24' },
    slices: { type: 'string' },
    options: { type: 'string', default: '{}' },
    // Unset: the default of PropagationOptions.step.
    step: { type: 'string' },
    mode: { type: 'string', default: 'propagate' },
    // After the propagated run: the cascade on this many evenly spread non-blank slices of the slab.
    'per-slice-subset': { type: 'string', default: '0' },
  },
});
const log = (m: string) => process.stderr.write(`${m}\n`);
const salip = await createSalip({ backend: nodeBackend(), sam: defaultSamFiles() });
const task = brainTask('exact');
const { volume, truth } = loadBrainVolume();
const depth = volume.dims[2];
const slab = Math.min(Number(args.slab), depth);
const first = Math.max(0, Math.floor(depth / 2) - (slab >> 1));
const slices = args.slices ? parseRanges(args.slices) : Array.from({ length: Math.min(slab, depth - first) }, (_, i) => first + i);
// One object, or a list of them: each is a propagated run in this process (the per-slice subset then compares with the first).
const parsedOptions: unknown = JSON.parse(args.options, (_, v) => (v === 'Infinity' ? Infinity : v));
const propagations: PropagationOptions[] = (Array.isArray(parsedOptions) ? parsedOptions : [parsedOptions]).map((o) => ({ ...(args.step ? { step: Number(args.step) } : {}), ...o }));

/** '60-120,0-20' -> [0..20, 60..120], sorted. */
function parseRanges(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [a, b = a] = part.split('-').map(Number);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/** Dice of one slice's mask against ch2bet's (1 when both are empty). */
function sliceDice(mask: Uint8Array, z: number): number {
  return volumeDice(mask, truth, volume.dims, [z]);
}

// Counters per phase: what runs inside the cascade is counted apart from what the walk does itself.
const counts = { embed: 0, embedMs: 0, decode: 0, decodeMs: 0, cascades: 0, cascadeMs: 0, cascadeEmbeds: 0, cascadeDecodes: 0 };
let inCascade = false;
const sam = salip.sam as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
for (const name of ['embed', 'decode'] as const) {
  const original = sam[name].bind(salip.sam);
  sam[name] = async (...a: unknown[]) => {
    const t = now();
    try {
      return await original(...a);
    } finally {
      if (name === 'embed') {
        counts.embed++;
        counts.embedMs += now() - t;
        if (inCascade) counts.cascadeEmbeds++;
      } else {
        counts.decode++;
        counts.decodeMs += now() - t;
        if (inCascade) counts.cascadeDecodes++;
      }
    }
  };
}
const segment = salip.segment.bind(salip);
(salip as { segment: typeof segment }).segment = async (...a) => {
  const t = now();
  inCascade = true;
  counts.cascades++;
  try {
    return await segment(...a);
  } finally {
    inCascade = false;
    counts.cascadeMs += now() - t;
  }
};

// Warm-up outside the timing: sessions, exemplar prototypes, the split decoder.
await segmentVolume(salip, volume, task, { slices: [slices[slices.length >> 1]] });
for (const k of Object.keys(counts) as Array<keyof typeof counts>) counts[k] = 0;

/** One propagated (or per-slice) run over the slab, logged with its counters and each slice's record. */
async function probeRun(propagate: PropagationOptions | false) {
  for (const k of Object.keys(counts) as Array<keyof typeof counts>) counts[k] = 0;
  let last = now();
  const perSlice: string[] = [];
  const t0 = now();
  const result = await segmentVolume(salip, volume, task, {
    slices,
    propagate,
    onProgress: (p) => {
      const t = now();
      perSlice.push(`${(t - last).toFixed(0)}`);
      last = t;
      // As it goes, so a run that takes too long still shows where its time went.
      log(`${p.done}/${p.total} ${((t - t0) / 1000).toFixed(1)} s ${JSON.stringify(counts)}`);
    },
  });
  const wallMs = now() - t0;
  const inSlab = result.slices.filter((s) => s.reason !== 'not-requested');
  const sources: Record<string, number> = {};
  for (const s of inSlab) {
    const key = s.skipped ? `skipped:${s.reason}` : `${s.source}${s.rerun ? `:rerun` : ''}`;
    sources[key] = (sources[key] ?? 0) + 1;
  }
  const summary = { mode: args.mode, propagate, slab: [slices[0], slices[slices.length - 1]], wallMs, msPerSlice: wallMs / slices.length, dice: volumeDice(result.mask, truth, volume.dims, slices), counts: { ...counts }, sources };
  for (const s of inSlab) log(JSON.stringify({ ...s, stability: s.stability?.toFixed(3), predictedIou: s.predictedIou?.toFixed(3), score: s.score?.toFixed(2), dice: sliceDice(result.mask, s.index).toFixed(3) }));
  log(`progress intervals (ms, in walk order): ${perSlice.join(' ')}`);
  log(JSON.stringify(summary));
  return { result, wallMs, summary };
}

const runs = [];
for (const propagate of args.mode === 'propagate' ? propagations : [false as const]) runs.push(await probeRun(propagate));
const { result, wallMs } = runs[0];

const subsetSize = Number(args['per-slice-subset']);
if (subsetSize > 0) {
  const run = prepareVolumeRun(volume, task, {});
  const nonBlank = slices.filter((i) => run.skipReason(i, run.sliceImage(i)) === undefined);
  const subset = spreadSubset(nonBlank.map(String), subsetSize).map(Number);
  for (const k of Object.keys(counts) as Array<keyof typeof counts>) counts[k] = 0;
  const t1 = now();
  const perSliceResult = await segmentVolume(salip, volume, task, {
    slices: subset,
    propagate: false,
    onProgress: (p) => {
      if (p.done % 10 === 0) log(`per slice ${p.done}/${p.total} ${((now() - t1) / 1000).toFixed(1)} s ${JSON.stringify(counts)}`);
    },
  });
  const perSliceMs = (now() - t1) / subset.length;
  log(
    JSON.stringify({
      perSliceSubset: subset,
      msPerSlice: perSliceMs,
      counts,
      dice: volumeDice(perSliceResult.mask, truth, volume.dims, subset),
      propagatedDiceOnSubset: runs.map((r) => volumeDice(r.result.mask, truth, volume.dims, subset)),
      speedupsVsExtrapolated: runs.map((r) => (perSliceMs * nonBlank.length) / r.wallMs),
      perSliceScoreAndDice: perSliceResult.slices.filter((s) => subset.includes(s.index)).map((s) => `${s.index}:${s.score?.toFixed(1)}:${sliceDice(perSliceResult.mask, s.index).toFixed(2)}`).join(' '),
      nonBlank: nonBlank.length,
      extrapolatedPerSliceMs: perSliceMs * nonBlank.length,
      speedupVsExtrapolated: (perSliceMs * nonBlank.length) / wallMs,
    }),
  );
}
await salip.dispose();
