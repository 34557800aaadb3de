/**
 * Soak test: many segmentations in one process on the real MobileSAM weights, watching the
 * resident set size. After a warm-up (ORT arenas, caches and JIT settle) the RSS must not grow by
 * 5 % or more; the script exits 1 when it does, so CI can run it.
 *
 *   npm run soak -- [--runs 200] [--warmup 20] [--points 2] [--limit 5] [--threads N]
 *
 * Images: two chest X-rays from the shared data (SALIP_DATA_DIR or ../shared/data) resized to
 * 256 x 256, with a third as the exemplar; synthetic images when the data is not there.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  createSalip,
  defaultSamFiles,
  isSalipError,
  nodeBackend,
  readImageFile,
  readMaskFile,
  resizeImage,
  resizeMaskNearest,
  type BinaryMask,
  type RgbImage,
  type SalipTask,
} from '../src/node.js';

const SIZE = 256;
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface SoakOptions {
  runs: number;
  warmup: number;
  points: number;
  limitPercent: number;
  threads?: number;
}

function readOptions(): SoakOptions {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '200' },
      warmup: { type: 'string', default: '20' },
      points: { type: 'string', default: '2' },
      limit: { type: 'string', default: '5' },
      threads: { type: 'string' },
    },
  });
  const int = (name: string, text: string, min: number): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${name}: expected an integer >= ${min}, got '${text}'`);
    return value;
  };
  const options: SoakOptions = {
    runs: int('runs', values.runs, 2),
    warmup: int('warmup', values.warmup, 1),
    points: int('points', values.points, 1),
    limitPercent: Number(values.limit),
    threads: values.threads === undefined ? undefined : int('threads', values.threads, 1),
  };
  // Baseline and final windows must not overlap, or growth would be measured against itself.
  if (options.runs < options.warmup + 2 * windowSize(options)) {
    throw new Error(`--runs ${options.runs}: expected at least warm-up + 2 windows (${options.warmup + 2 * windowSize(options)})`);
  }
  return options;
}

/** Runs whose RSS is averaged (median) at the start and at the end of the measured part. */
function windowSize(options: Pick<SoakOptions, 'runs' | 'warmup'>): number {
  return Math.max(1, Math.min(10, Math.floor((options.runs - options.warmup) / 4)));
}

/** A gray image with a bright ellipse, and the ellipse as a mask (used without the data). */
function syntheticCase(cx: number, cy: number): { image: RgbImage; mask: BinaryMask } {
  const data = new Uint8Array(SIZE * SIZE * 3);
  const mask = new Uint8Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const inside = ((x - cx) / 50) ** 2 + ((y - cy) / 70) ** 2 <= 1;
      data.fill(inside ? 200 : 40 + ((x * 7 + y * 3) % 20), (y * SIZE + x) * 3, (y * SIZE + x) * 3 + 3);
      mask[y * SIZE + x] = inside ? 1 : 0;
    }
  }
  return { image: { width: SIZE, height: SIZE, data }, mask: { width: SIZE, height: SIZE, data: mask } };
}

async function loadCases(): Promise<{ images: RgbImage[]; exemplar: { image: RgbImage; mask: BinaryMask }; source: string }> {
  const dataDir = process.env.SALIP_DATA_DIR ?? resolve(REPO_ROOT, '..', 'shared', 'data');
  const imagesDir = join(dataDir, 'lung_xray', 'images');
  if (existsSync(imagesDir)) {
    const names = readdirSync(imagesDir).filter((n) => n.endsWith('.png')).sort().slice(0, 3);
    const load = async (name: string) => ({
      image: resizeImage(await readImageFile(join(imagesDir, name)), SIZE, SIZE, 'bilinear'),
      mask: resizeMaskNearest(await readMaskFile(join(dataDir, 'lung_xray', 'masks', name)), SIZE, SIZE),
    });
    const [exemplar, ...rest] = await Promise.all(names.map(load));
    return { images: rest.map((c) => c.image), exemplar, source: `${imagesDir} (${names.join(', ')})` };
  }
  const cases = [syntheticCase(100, 128), syntheticCase(150, 120), syntheticCase(128, 128)];
  return { images: [cases[0].image, cases[1].image], exemplar: cases[2], source: 'synthetic ellipses' };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const mb = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1);

/** Memory after a full collection when --expose-gc allows it, so garbage not yet collected does not count. */
function sampleMemory(): NodeJS.MemoryUsage {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage();
}

async function soak(options: SoakOptions): Promise<number> {
  const { images, exemplar, source } = await loadCases();
  const task: SalipTask = {
    name: 'soak',
    classes: [{ name: 'target', topK: 1, exemplars: [exemplar] }],
    maxAreaFraction: 0.76,
    everything: { pointsPerSide: options.points, predIouThresh: 0.3, stabilityScoreThresh: 0.3 },
  };
  const sam = defaultSamFiles();
  const salip = await createSalip({ backend: nodeBackend({ intraOpThreads: options.threads }), sam: { ...sam } });
  const hasGc = typeof (globalThis as { gc?: unknown }).gc === 'function';
  console.log(`soak: ${options.runs} segmentations of ${SIZE}x${SIZE} images (${source}), ${options.points}x${options.points} points, MobileSAM`);
  if (!hasGc) console.log('soak: run with node --expose-gc for steadier samples (npm run soak does)');
  const rss: number[] = [];
  const started = performance.now();
  let measuredFrom = started;
  try {
    for (let run = 1; run <= options.runs; run++) {
      const result = await salip.segment(images[run % images.length], task);
      if (result.classes.target.mask.width !== SIZE) throw new Error(`run ${run}: unexpected mask size`);
      const memory = sampleMemory();
      rss.push(memory.rss);
      if (run === options.warmup) measuredFrom = performance.now();
      if (run % 20 === 0 || run === options.runs) {
        const seconds = (performance.now() - started) / 1000;
        console.log(`run ${String(run).padStart(4)}  rss ${mb(memory.rss)} MB  heap ${mb(memory.heapUsed)} MB  external ${mb(memory.external)} MB  ${seconds.toFixed(0)} s`);
      }
    }
  } finally {
    await salip.dispose();
  }
  const window = windowSize(options);
  const baseline = median(rss.slice(options.warmup, options.warmup + window));
  const final = median(rss.slice(rss.length - window));
  const growth = ((final - baseline) / baseline) * 100;
  const total = (performance.now() - started) / 1000;
  const perRun = (performance.now() - measuredFrom) / 1000 / (options.runs - options.warmup);
  console.log(
    `soak: rss after warm-up ${mb(baseline)} MB, at the end ${mb(final)} MB (medians of ${window} runs): growth ${growth.toFixed(2)} % (limit ${options.limitPercent} %)`,
  );
  console.log(`soak: ${total.toFixed(0)} s in total, ${perRun.toFixed(2)} s per segmentation after warm-up`);
  if (growth >= options.limitPercent) {
    console.error(`soak: FAILED, RSS grew ${growth.toFixed(2)} % (>= ${options.limitPercent} %)`);
    return 1;
  }
  console.log('soak: passed');
  return 0;
}

try {
  process.exitCode = await soak(readOptions());
} catch (error) {
  console.error(isSalipError(error) ? `soak: ${error.code}: ${error.message}` : error);
  process.exitCode = 2;
}
