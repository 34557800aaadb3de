/**
 * Pieces the CLI commands share: loading tasks and exemplars, output paths that refuse to
 * clobber, JSON conversion of records, and the candidate overlay.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { SalipError } from '../../core/errors.js';
import { decodeRle, resizeMaskNearest } from '../../core/mask.js';
import { ellipseCircumference } from '../../core/ellipse.js';
import { PALETTE, renderOverlay, type OverlayLayer } from '../../core/overlay.js';
import { createRandom } from '../../core/random.js';
import type { BinaryMask, RgbImage } from '../../core/types.js';
import { listImageFiles } from '../../backends/node-files.js';
import { loadExemplars, withClassExemplars, type ExemplarFiles } from '../../batch/task-source.js';
import type { SalipResult } from '../../pipeline/salip.js';
import type { SalipTask } from '../../pipeline/tasks.js';
import type { MaskRecord } from '../../pipeline/types.js';
import type { FlagSpec, FlagValue } from '../args.js';

export type Options = Record<string, FlagValue | undefined>;

export const OUTPUT_FLAGS: Readonly<Record<string, FlagSpec>> = {
  force: { type: 'boolean', description: 'overwrite existing output files' },
};

export const FAST_FLAGS: Readonly<Record<string, FlagSpec>> = {
  fast: { type: 'boolean', description: "segment-everything's fast mode: guided by the exemplars when there are some (30-40 % of the decoder calls, Dice within about 0.01), else about a fifth of the calls with lower Dice on some tasks (docs/performance.md)" },
};

/** The task with segment-everything switched to fast mode when --fast is given. */
export function withFastMode(task: SalipTask, o: Options): SalipTask {
  return o.fast === true ? { ...task, everything: { ...task.everything, mode: 'fast' } } : task;
}

export const EXEMPLAR_FLAGS: Readonly<Record<string, FlagSpec>> = {
  'exemplar-images': { type: 'string', valueName: '<dir>', description: 'folder of labelled images to draw exemplars from' },
  'exemplar-masks': { type: 'string', valueName: '<dir>', description: 'folder of their masks (same file names)' },
  exemplars: { type: 'integer', min: 1, max: 5, default: 3, description: 'how many exemplars to draw' },
  seed: { type: 'integer', default: 0, description: 'seed for drawing exemplars and random search' },
};

export { loadTask, portableTask } from '../../batch/task-source.js';

/**
 * The exemplar files drawn (seeded) from the labelled folders the flags name, never one of
 * `exclude` (the inputs being segmented, compared as real paths); [] when no folder is named.
 */
export async function drawExemplarFiles(o: Options, exclude: readonly string[] = []): Promise<ExemplarFiles[]> {
  if (o.exemplarImages === undefined && o.exemplarMasks === undefined) return [];
  if (o.exemplarImages === undefined || o.exemplarMasks === undefined) {
    throw new SalipError('INVALID_ARGUMENT', '--exemplar-images and --exemplar-masks go together');
  }
  const excluded = new Set(exclude.map(canonicalPath));
  const files = (await listImageFiles(o.exemplarImages as string)).filter((f) => !excluded.has(canonicalPath(f)));
  const count = (o.exemplars as number | undefined) ?? 3;
  if (files.length < count) {
    const note = files.length < (await listImageFiles(o.exemplarImages as string)).length ? ' once the inputs being segmented are left out' : '';
    throw new SalipError('INVALID_ARGUMENT', `--exemplars ${count}: only ${files.length} labelled images in ${String(o.exemplarImages)}${note}`);
  }
  const picked = createRandom((o.seed as number | undefined) ?? 0).sample(files, count);
  return picked.map((file) => ({ image: resolve(file), mask: resolve(join(o.exemplarMasks as string, basename(file))) }));
}

/**
 * Gives every class of the task exemplars drawn from labelled folders (when the flags name
 * them, never the file `exclude`), resized to the task's working size. Returns the task and the names drawn.
 */
export async function withExemplars(task: SalipTask, o: Options, exclude?: string): Promise<{ task: SalipTask; names: string[] }> {
  const files = await drawExemplarFiles(o, exclude === undefined ? [] : [exclude]);
  if (files.length === 0) return { task, names: [] };
  const exemplars = await loadExemplars(files, task.workingSize);
  return { task: withClassExemplars(task, exemplars), names: files.map((f) => basename(f.image)) };
}

/** Refuses an output path that exists (without --force) or whose folder is missing, before any work. */
export function checkOutputPath(path: string | undefined, flag: string, force: boolean): void {
  if (path === undefined) return;
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new SalipError('OUTPUT_DIR_MISSING', `${flag} ${path}: the folder ${dir} does not exist`);
  }
  if (existsSync(path) && !force) throw new SalipError('OUTPUT_EXISTS', `${flag} ${path}: the file exists; use --force to overwrite it`);
}

/**
 * Refuses two outputs with the same path (the second would overwrite the first) and an output
 * that is one of the run's input files or folders, even with --force: either would lose data.
 */
export function checkDistinctPaths(outputs: ReadonlyArray<[string, string | undefined]>, inputs: ReadonlyArray<[string, string | undefined]>): void {
  const seen = new Map<string, string>();
  for (const [what, path] of inputs) if (path !== undefined) seen.set(canonicalPath(path), what);
  for (const [flag, path] of outputs) {
    if (path === undefined) continue;
    const key = canonicalPath(path);
    const clash = seen.get(key);
    if (clash !== undefined) {
      throw new SalipError('INVALID_ARGUMENT', `${flag} ${path}: the same path as ${clash}; writing it would overwrite that data, choose another path`, {
        details: { path, clash },
      });
    }
    seen.set(key, flag);
  }
}

/** Absolute path with symlinks resolved when the path exists, so two spellings of one file compare equal. */
function canonicalPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** Creates an output folder (and parents) for many files; OUTPUT_WRITE_FAILED names it when that fails. */
export async function ensureOutputDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException)?.code;
    const reason =
      code === 'ENOTDIR' || code === 'EEXIST'
        ? 'a part of the path is a file, not a folder'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : cause instanceof Error
            ? cause.message
            : String(cause);
    throw new SalipError('OUTPUT_WRITE_FAILED', `cannot create output folder ${dir}: ${reason}`, { cause, details: { path: dir } });
  }
}

/** A mask record in segment-anything's JSON field names (COCO RLE segmentation). */
export function recordToJson(r: MaskRecord): Record<string, unknown> {
  return {
    segmentation: { size: r.segmentation.size, counts: r.segmentation.counts },
    area: r.area,
    bbox: r.bbox,
    predicted_iou: r.predictedIou,
    point_coords: r.pointCoords,
    stability_score: r.stabilityScore,
    crop_box: r.cropBox,
    mask_index: r.maskIndex,
    ...(r.proposer !== undefined ? { proposer: r.proposer } : {}),
  };
}

/** The cascade result as JSON: masks as RLE, records in reference field names. */
export function resultToJson(result: SalipResult, encode: (m: BinaryMask) => unknown): Record<string, unknown> {
  const t = result.retrieval.table;
  return {
    task: result.task,
    imageSize: result.imageSize,
    workingSize: result.workingSize,
    classes: Object.fromEntries(
      Object.entries(result.classes).map(([name, c]) => [
        name,
        {
          mask: encode(c.mask),
          chosen: c.chosen.map((ch) => ({ poolIndex: result.retrieval.poolIndex[ch.index], score: ch.score, rank: ch.rank, margin: ch.margin, record: recordToJson(ch.record) })),
          parts: c.parts.map((p, i) => ({
            box: p.prompt.box,
            predictedIou: p.predictedIou,
            stabilityScore: p.stabilityScore,
            refinedScore: c.refinedScores[i] ?? null,
            ...(p.ellipse ? { ellipse: { ...p.ellipse, circumference: ellipseCircumference(p.ellipse) } } : {}),
          })),
        },
      ]),
    ),
    pool: result.pool.map(recordToJson),
    retrieval: {
      poolIndex: result.retrieval.poolIndex,
      removed: result.retrieval.removed,
      scores: Object.fromEntries(t.classNames.map((n, c) => [n, Array.from(t.scores.subarray(c * t.candidateCount, (c + 1) * t.candidateCount))])),
    },
    everything: result.everything,
    decoderCalls: result.decoderCalls,
    timings: result.timings,
  };
}

/** Overlay of the cascade: every candidate outlined thinly, chosen ones thick, final mask filled. */
export function cascadeOverlay(image: RgbImage, result: SalipResult): RgbImage {
  const size = (m: BinaryMask) => (m.width === image.width && m.height === image.height ? m : resizeMaskNearest(m, image.width, image.height));
  const layers: OverlayLayer[] = result.pool.map((r, i) => ({ mask: size(decodeRle(r.segmentation)), color: PALETTE[i % PALETTE.length], outline: 1 }));
  Object.values(result.classes).forEach((c, k) => {
    for (const ch of c.chosen) layers.push({ mask: size(decodeRle(ch.record.segmentation)), color: [255, 220, 0], outline: 3 });
    layers.push({ mask: c.mask, color: k === 0 ? [0, 200, 255] : PALETTE[(k * 3) % PALETTE.length], fillAlpha: 0.4, outline: 2 });
  });
  return renderOverlay(image, layers);
}

/** The extension-based kind of an input path. */
export function isVolumePath(path: string): boolean {
  return path.endsWith('.nii') || path.endsWith('.nii.gz');
}

export function extensionOf(path: string): string {
  return path.endsWith('.nii.gz') ? '.nii.gz' : extname(path).toLowerCase();
}
