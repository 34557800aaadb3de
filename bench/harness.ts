/**
 * Shared pieces of the benchmark: the machine description, an ONNX Runtime time meter fed by
 * Backend.onRun, dev-set loading (read by path, never copied) and small statistics.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectInt8Weights } from '../src/backends/node.js';
import type { Backend } from '../src/backends/types.js';
import { decodeImage, decodeMask } from '../src/io/image-codecs.js';
import { boxNms } from '../src/core/everything/index.js';
import { boxXyxyToXywh } from '../src/core/mask.js';
import type { EvalItem } from '../src/pipeline/evaluate.js';
import type { CropCandidate } from '../src/pipeline/stages/segment-everything.js';
import type { MaskRecord } from '../src/pipeline/types.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DATA_DIR = process.env.SALIP_DATA_DIR ?? resolve(REPO_ROOT, '..', 'shared', 'data');

export type DevTask = 'lung_xray' | 'fetal_head_us' | 'brain_mri';
export const DEV_TASKS: readonly DevTask[] = ['lung_xray', 'fetal_head_us', 'brain_mri'];
/** The task preset each dev folder is evaluated with. */
export const PRESET_OF = { lung_xray: 'lungs-cxr', fetal_head_us: 'fetal-head-us', brain_mri: 'brain-mri' } as const;

/** What the numbers were measured on. */
export function machineInfo() {
  const ortVersion = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version as string;
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    onnxruntimeNode: ortVersion,
    platform: `${process.platform} ${process.arch}`,
    loadAverage: loadavg().map((v) => Number(v.toFixed(2))),
    // The int8 weight format nodeBackend() picks here (uint8 unless the CPU has VNNI): int8 speed depends on it.
    int8Weights: detectInt8Weights(),
  };
}

/** Sums the ONNX Runtime run time a backend reports, per label, between start() and read(). */
export class OrtMeter {
  private total = 0;
  private runs = 0;
  private byLabel = new Map<string, number>();
  private counts = { encoder: 0, decoder: 0 };

  constructor(backend: Backend) {
    backend.onRun = (record) => {
      this.total += record.ms;
      this.runs++;
      this.byLabel.set(record.label, (this.byLabel.get(record.label) ?? 0) + record.ms);
      // Calls by model kind (SAM decoder, its split parts and batch variant count as decoder calls).
      if (/SAM encoder/.test(record.label)) this.counts.encoder++;
      else if (/SAM decoder(?! \(image part\))/.test(record.label)) this.counts.decoder++;
    };
  }

  start(): void {
    this.total = 0;
    this.runs = 0;
    this.byLabel.clear();
    this.counts = { encoder: 0, decoder: 0 };
  }

  read(): { ms: number; runs: number; byLabel: Record<string, number>; countByLabel: { encoder: number; decoder: number } } {
    return { ms: this.total, runs: this.runs, byLabel: Object.fromEntries(this.byLabel), countByLabel: { ...this.counts } };
  }
}

/** Sorted image names of a dev task. */
export function devNames(task: DevTask): string[] {
  return readdirSync(join(DATA_DIR, task, 'images'))
    .filter((f) => f.endsWith('.png'))
    .sort();
}

/** `count` names spread evenly over the sorted list (all when count >= length). */
export function spreadSubset(names: string[], count: number): string[] {
  if (count >= names.length) return names;
  return Array.from({ length: count }, (_, i) => names[Math.floor(((i + 0.5) * names.length) / count)]);
}

/** A dev image and its mask at native size. */
export function loadDevItem(task: DevTask, name: string): EvalItem {
  const image = decodeImage(new Uint8Array(readFileSync(join(DATA_DIR, task, 'images', name))), { name }).image;
  const groundTruth = decodeMask(new Uint8Array(readFileSync(join(DATA_DIR, task, 'masks', name))), { name });
  return { name, image, groundTruth };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export function now(): number {
  return performance.now();
}

/**
 * The records segment-everything keeps from one whole-image crop's candidates: box NMS ranked by
 * predicted IoU, then the record layout (for replays over cached decoder outputs).
 */
export function poolFromCandidates(candidates: CropCandidate[], boxNmsThresh: number, width: number, height: number): MaskRecord[] {
  return boxNms(candidates.map((c) => c.box), candidates.map((c) => c.predictedIou), boxNmsThresh).map((i) => ({
    segmentation: candidates[i].rle,
    area: candidates[i].area,
    bbox: boxXyxyToXywh(candidates[i].box),
    predictedIou: candidates[i].predictedIou,
    pointCoords: [candidates[i].point],
    stabilityScore: candidates[i].stabilityScore,
    cropBox: [0, 0, width, height],
    maskIndex: candidates[i].maskIndex,
  }));
}

// The peak of this process's own memory: VmHWM on Linux. resourceUsage().maxRSS is not that: a
// child started by fork inherits the parent's high-water mark, so when bench/run.ts (holding the
// batched decoder's 4 GB arena) spawned this script, maxRSS said 4.3 GB for a process that never
// passed 0.9 GB.
export function peakRss(): number {
  try {
    const match = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // Not Linux: fall back to getrusage.
  }
  return process.resourceUsage().maxRSS / 1024;
}
