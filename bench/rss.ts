/**
 * Peak resident memory of segment-everything at 32 x 32 points with one crop layer on a
 * 1024 x 1024 image, in a process of its own so that nothing else of the benchmark counts.
 * Prints one JSON line. Run by bench/run.ts:  tsx bench/rss.ts <exact|fast>
 */
import { defaultSamFiles } from '../src/backends/default-models.js';
import { nodeBackend } from '../src/backends/node.js';
import { resizeImage } from '../src/core/image.js';
import { createSamModel } from '../src/models/sam/sam.js';
import { segmentEverything } from '../src/pipeline/stages/segment-everything.js';
import { workerCandidateMaker } from '../src/pipeline/stages/candidate-makers.js';
import { devNames, loadDevItem, now, OrtMeter, peakRss } from './harness.js';

const mode = process.argv[2] === 'fast' ? 'fast' : 'exact';
const backend = nodeBackend();
const meter = new OrtMeter(backend);
const sam = await createSamModel(backend, defaultSamFiles());
const name = devNames('lung_xray')[0];
const image = resizeImage(loadDevItem('lung_xray', name).image, 1024, 1024, 'bilinear');
const embedding = await sam.embed(image);
const rssAfterLoadMb = process.memoryUsage().rss / 2 ** 20;
// Masks judged in a worker, as createSalip does (its thread's memory is part of the process's).
const candidateMaker = workerCandidateMaker(backend);
meter.start();
const t0 = now();
// The cascade's permissive filters (0.5 / 0.5) keep more candidates than the reference's, so
// more masks are held at once: the harder case for memory.
const result = await segmentEverything(sam, image, {
  pointsPerSide: 32,
  cropNLayers: 1,
  predIouThresh: 0.5,
  stabilityScoreThresh: 0.5,
  mode,
  embedding,
  candidateMaker,
});
const wallMs = now() - t0;
const peakRssMb = peakRss();
console.log(
  JSON.stringify({
    mode,
    image: `lung_xray/${name} resized to 1024 x 1024`,
    peakRssMb: Math.round(peakRssMb),
    rssAfterModelLoadMb: Math.round(rssAfterLoadMb),
    wallMs: Math.round(wallMs),
    ortMs: Math.round(meter.read().ms),
    decoderCalls: result.stats.decoderCalls,
    encoderCalls: result.stats.encoderCalls,
    records: result.records.length,
  }),
);
await candidateMaker.dispose();
await sam.dispose();
