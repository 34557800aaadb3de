/**
 * Pieces the CLI commands share: loading tasks and exemplars, output paths that refuse to
 * clobber, JSON conversion of records, and the candidate overlay.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve } from 'node:path';
import { SalipError } from '../../core/errors.js';
import { resizeImage } from '../../core/image.js';
import { decodeRle, resizeMaskNearest } from '../../core/mask.js';
import { PALETTE, renderOverlay, type OverlayLayer } from '../../core/overlay.js';
import { createRandom } from '../../core/random.js';
import type { BinaryMask, RgbImage } from '../../core/types.js';
import { listImageFiles, readFileBytes, readImageFile, readMaskFile } from '../../backends/node-files.js';
import type { Exemplar } from '../../pipeline/scorers.js';
import type { SalipResult } from '../../pipeline/salip.js';
import { resolveTask, TASK_PRESETS, validateTask, type SalipTask } from '../../pipeline/tasks.js';
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

/**
 * Where each exemplar the CLI loaded came from (absolute paths), so a task written back out
 * (tune --task-out) can name its exemplars by path.
 */
const exemplarSources = new WeakMap<Exemplar, { image: string; mask: string }>();

/** The file paths of an exemplar the CLI loaded, if it loaded it. */
export function exemplarSource(exemplar: Exemplar): { image: string; mask: string } | undefined {
  return exemplarSources.get(exemplar);
}

/**
 * A task as JSON a user can pass to --task again: classes with their prompts, topK and
 * exemplars as paths relative to `dir` (the folder the JSON is written to); every setting kept.
 */
export function portableTask(task: SalipTask, dir: string): Record<string, unknown> {
  const { classes, ...rest } = task;
  return {
    ...rest,
    classes: classes.map((c, i) => ({
      name: c.name,
      topK: c.topK,
      prompts: c.prompts,
      exemplars: c.exemplars?.map((e, j) => {
        const source = exemplarSource(e);
        if (!source) {
          throw new SalipError('INVALID_TASK', `classes[${i}].exemplars[${j}]: not loaded from a file, so it cannot be written as a path`);
        }
        return { image: relative(dir, source.image), mask: relative(dir, source.mask) };
      }),
    })),
  };
}

/** A task from a preset name or a JSON file (exemplar paths in it are relative to the file). */
export async function loadTask(value: string | undefined): Promise<SalipTask> {
  if (value === undefined) throw new SalipError('INVALID_ARGUMENT', `--task: expected a preset (${Object.keys(TASK_PRESETS).join(', ')}) or a task JSON file`);
  // Own keys only: `in` would also take 'constructor' or 'toString' for a preset name.
  if (Object.hasOwn(TASK_PRESETS, value)) return resolveTask(value);
  if (!value.endsWith('.json') && !existsSync(value)) {
    throw new SalipError('INVALID_TASK', `--task: '${value}' is neither a preset (${Object.keys(TASK_PRESETS).join(', ')}) nor an existing JSON file`);
  }
  const text = new TextDecoder().decode(await readFileBytes(value, '--task file'));
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (cause) {
    throw new SalipError('INVALID_TASK', `--task ${value}: not valid JSON (${(cause as Error).message})`, { cause });
  }
  // Exemplars in a JSON task are paths relative to the file; load them before validation.
  const base = dirname(resolve(value));
  if (raw && typeof raw === 'object' && Array.isArray((raw as { classes?: unknown }).classes)) {
    for (const cls of (raw as { classes: Array<Record<string, unknown>> }).classes) {
      if (cls && Array.isArray(cls.exemplars)) {
        cls.exemplars = await Promise.all(
          cls.exemplars.map(async (e: unknown, i: number) => {
            const ex = e as { image?: unknown; mask?: unknown };
            if (typeof ex?.image !== 'string' || typeof ex?.mask !== 'string') {
              throw new SalipError('INVALID_TASK', `${value}: classes[].exemplars[${i}] expected { "image": path, "mask": path }`);
            }
            const paths = { image: resolve(base, ex.image), mask: resolve(base, ex.mask) };
            const exemplar = { image: await readImageFile(paths.image), mask: await readMaskFile(paths.mask) };
            exemplarSources.set(exemplar, paths);
            return exemplar;
          }),
        );
      }
    }
  }
  return resolveTask(validateTask(raw));
}

/**
 * Gives every class of the task exemplars drawn from labelled folders (when the flags name
 * them), resized to the task's working size. Returns the task and the names drawn.
 */
export async function withExemplars(task: SalipTask, o: Options, exclude?: string): Promise<{ task: SalipTask; names: string[] }> {
  if (o.exemplarImages === undefined && o.exemplarMasks === undefined) return { task, names: [] };
  if (o.exemplarImages === undefined || o.exemplarMasks === undefined) {
    throw new SalipError('INVALID_ARGUMENT', '--exemplar-images and --exemplar-masks go together');
  }
  const files = (await listImageFiles(o.exemplarImages as string)).filter((f) => f !== exclude);
  const count = (o.exemplars as number | undefined) ?? 3;
  if (files.length < count) throw new SalipError('INVALID_ARGUMENT', `--exemplars ${count}: only ${files.length} labelled images in ${String(o.exemplarImages)}`);
  const picked = createRandom((o.seed as number | undefined) ?? 0).sample(files, count);
  const size = task.workingSize;
  const exemplars: Exemplar[] = [];
  for (const file of picked) {
    const name = file.split(/[\\/]/).pop()!;
    let image = await readImageFile(file);
    let mask = await readMaskFile(join(o.exemplarMasks as string, name));
    if (mask.width !== image.width || mask.height !== image.height) {
      throw new SalipError('SIZE_MISMATCH', `exemplar ${name}: mask is ${mask.width}x${mask.height} but the image is ${image.width}x${image.height}`);
    }
    if (size) {
      image = resizeImage(image, size, size, 'bilinear');
      mask = resizeMaskNearest(mask, size, size);
    }
    const exemplar = { image, mask };
    exemplarSources.set(exemplar, { image: resolve(file), mask: resolve(join(o.exemplarMasks as string, name)) });
    exemplars.push(exemplar);
  }
  return {
    task: { ...task, classes: task.classes.map((c) => ({ name: c.name, topK: c.topK, prompts: c.prompts, exemplars })) },
    names: picked.map((f) => f.split(/[\\/]/).pop()!),
  };
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
          parts: c.parts.map((p, i) => ({ box: p.prompt.box, predictedIou: p.predictedIou, stabilityScore: p.stabilityScore, refinedScore: c.refinedScores[i] ?? null })),
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
