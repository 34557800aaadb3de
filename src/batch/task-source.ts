/**
 * The task a batch runs, in a form that crosses process and machine boundaries: a preset name
 * or a task JSON path plus the exemplar files drawn for it (paths, not pixels). Every worker
 * rebuilds the same SalipTask from it, and its hash decides which outputs are stale.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { SalipError } from '../core/errors.js';
import { resizeImage } from '../core/image.js';
import { resizeMaskNearest } from '../core/mask.js';
import { readFileBytes, readImageFile, readMaskFile } from '../backends/node-files.js';
import type { Exemplar } from '../pipeline/scorers.js';
import { resolveTask, TASK_PRESETS, validateTask, type SalipTask } from '../pipeline/tasks.js';

/** A labelled example as two files: an image and its mask (same size). */
export interface ExemplarFiles {
  readonly image: string;
  readonly mask: string;
}

/** Everything needed to rebuild a batch's task in another process. Plain data (JSON-safe). */
export interface TaskSource {
  /** A preset name (lungs-cxr, ...) or the absolute path of a task JSON file. */
  readonly task: string;
  /** Exemplars every class of the task gets (absolute paths); empty keeps the task's own. */
  readonly exemplars: readonly ExemplarFiles[];
  /** Segment-everything in fast mode (the --fast flag). */
  readonly fast: boolean;
}

/**
 * Where each exemplar loaded from files came from (absolute paths), so a task written back out
 * (tune --task-out) can name its exemplars by path.
 */
const exemplarSources = new WeakMap<Exemplar, ExemplarFiles>();

/** The files an exemplar was loaded from, if it was loaded here. */
export function exemplarSource(exemplar: Exemplar): ExemplarFiles | undefined {
  return exemplarSources.get(exemplar);
}

/**
 * A task as JSON a user can pass to --task again: every setting, and the classes with their
 * prompts, topK and exemplars as paths relative to `dir` (the folder the JSON is written to).
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

/** A task from a preset name or a JSON file (exemplar paths in it are relative to the file), TASK_DEFAULTS filled in. */
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

/** Reads exemplar pairs, checks each mask matches its image, and resizes both to `size` when given. */
export async function loadExemplars(files: readonly ExemplarFiles[], size: number | null | undefined): Promise<Exemplar[]> {
  const exemplars: Exemplar[] = [];
  for (const file of files) {
    let image = await readImageFile(file.image);
    let mask = await readMaskFile(file.mask);
    if (mask.width !== image.width || mask.height !== image.height) {
      throw new SalipError('SIZE_MISMATCH', `exemplar ${file.image}: mask ${file.mask} is ${mask.width}x${mask.height} but the image is ${image.width}x${image.height}`);
    }
    if (size) {
      image = resizeImage(image, size, size, 'bilinear');
      mask = resizeMaskNearest(mask, size, size);
    }
    const exemplar = { image, mask };
    exemplarSources.set(exemplar, { image: resolve(file.image), mask: resolve(file.mask) });
    exemplars.push(exemplar);
  }
  return exemplars;
}

/** The task with every class described by `exemplars` (kept as is when there are none). */
export function withClassExemplars(task: SalipTask, exemplars: readonly Exemplar[]): SalipTask {
  if (exemplars.length === 0) return task;
  return { ...task, classes: task.classes.map((c) => ({ name: c.name, topK: c.topK, prompts: c.prompts, exemplars: [...exemplars] })) };
}

/** The task with segment-everything switched to fast mode when `fast`. */
export function withFast(task: SalipTask, fast: boolean): SalipTask {
  return fast ? { ...task, everything: { ...task.everything, mode: 'fast' } } : task;
}

/** Rebuilds the SalipTask a TaskSource describes (reads the task file and exemplar files). */
export async function resolveTaskSource(source: TaskSource): Promise<SalipTask> {
  const task = await loadTask(source.task);
  const exemplars = await loadExemplars(source.exemplars, task.workingSize);
  return withFast(withClassExemplars(task, exemplars), source.fast);
}

/**
 * Fails before any work when a class of the task has no exemplars and no CLIP model is given:
 * the pipeline would say so only after loading the models, in API terms; here the message
 * names the command-line flags that fix it.
 */
export function checkScorable(task: SalipTask, hasClip: boolean): void {
  if (hasClip) return;
  const textOnly = task.classes.find((c) => !(c.exemplars && c.exemplars.length > 0));
  if (textOnly) {
    throw new SalipError(
      'INVALID_TASK',
      `task '${task.name}': class '${textOnly.name}' is described by text prompts only and no CLIP model was given; ` +
        'pass labelled examples with --exemplar-images <dir> --exemplar-masks <dir>, or a CLIP model with --clip-preset and --clip-vision/--clip-text (or --clip-combined)',
    );
  }
}

/**
 * Hash of what decides a batch's outputs: the resolved task (exemplar pixels included, so a
 * changed exemplar file counts) and the model settings. Typed arrays are hashed by content.
 */
export function hashTask(task: SalipTask, settings: unknown): string {
  const hash = createHash('sha256');
  const json = JSON.stringify({ task, settings }, (_key, value: unknown) => {
    if (ArrayBuffer.isView(value)) {
      const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    }
    return value;
  });
  return hash.update(json).digest('hex');
}
