/**
 * salip batch --task T --out DIR INPUTS...: the cascade over many images and volumes on a pool
 * of worker processes, resumable (a manifest in --out), with a JSON summary and an HTML report.
 */
import { resolve } from 'node:path';
import { SalipError } from '../../core/errors.js';
import { runBatch, REPORT_FILE, SUMMARY_FILE, type BatchSummary } from '../../batch/run-batch.js';
import { expandInputs } from '../../batch/inputs.js';
import { checkScorable, resolveTaskSource, type TaskSource } from '../../batch/task-source.js';
import type { CommandSpec, FlagSpec } from '../args.js';
import type { ProgressReporter } from '../progress.js';
import { MODEL_FLAGS, modelSettingsFromFlags } from '../models.js';
import { EXEMPLAR_FLAGS, FAST_FLAGS, drawExemplarFiles, ensureOutputDir, type Options } from './shared.js';
import { TASK_PRESETS } from '../../pipeline/tasks.js';

/** Flags `batch` and `queue submit` share: what to segment and where the masks go. */
export const BATCH_INPUT_FLAGS: Readonly<Record<string, FlagSpec>> = {
  task: { type: 'string', valueName: '<preset|file.json>', description: 'task preset (lungs-cxr, fetal-head-us, brain-mri, heart-cxr) or task JSON' },
  out: { type: 'string', valueName: '<dir>', description: 'output folder: one mask per input (same relative layout), the manifest, summary and report' },
  ...FAST_FLAGS,
  ...EXEMPLAR_FLAGS,
};

export const BATCH_COMMAND: CommandSpec = {
  name: 'batch',
  summary: 'segment many images and volumes in parallel, resumable (one mask per input)',
  description:
    'INPUTS are files, folders (walked recursively) or list files (.txt/.list, one path a line, relative to the list). ' +
    'A rerun skips inputs already done with the same content, task and salip version, and redoes the rest. ' +
    `Writes ${SUMMARY_FILE} and ${REPORT_FILE} in --out; a bad input fails alone with its error code.`,
  positionals: [{ name: 'inputs', description: 'images (.png, .jpg, DICOM), volumes (.nii, .nii.gz, multi-frame DICOM), folders or list files', variadic: true }],
  flags: {
    ...BATCH_INPUT_FLAGS,
    workers: { type: 'integer', min: 1, max: 64, default: 1, description: 'worker processes, each with its own ONNX Runtime sessions' },
    force: { type: 'boolean', description: 'overwrite files in --out that no earlier batch run wrote' },
    ...MODEL_FLAGS,
  },
  examples: [
    'salip batch --task lungs-cxr --exemplar-images lungs/images --exemplar-masks lungs/masks --out masks/ archive/ --workers 2 --threads 1',
    'salip batch --task brain-mri --exemplar-images brain/images --exemplar-masks brain/masks --out masks/ volumes.txt',
  ],
};

/**
 * The task source of a batch or queue run from the flags: the task as a preset name or absolute
 * JSON path, exemplars drawn from the labelled folders leaving out every input. Checks the task
 * can be scored (exemplars or CLIP) before anything starts.
 */
export async function taskSourceFromFlags(o: Options, inputs: readonly string[], outDir: string): Promise<TaskSource> {
  if (o.task === undefined) throw new SalipError('INVALID_ARGUMENT', '--task: required (a preset or a task JSON file)');
  const task = String(o.task);
  const expanded = o.exemplarImages === undefined ? [] : (await expandInputs(inputs, outDir)).map((i) => i.path);
  const source: TaskSource = {
    task: Object.hasOwn(TASK_PRESETS, task) ? task : resolve(task),
    exemplars: await drawExemplarFiles(o, expanded),
    fast: o.fast === true,
  };
  checkScorable(await resolveTaskSource(source), o.clipPreset !== undefined);
  return source;
}

/** Exit status of a batch or queue run in which some inputs failed (each is in the summary). */
export const EXIT_SOME_FAILED = 3;

export async function runBatchCommand(inputs: string[], o: Options, progress: ProgressReporter, log: (s: string) => void): Promise<number> {
  if (o.out === undefined) throw new SalipError('INVALID_ARGUMENT', "--out: required by 'salip batch' (the folder for the masks)");
  const outDir = resolve(o.out as string);
  const models = modelSettingsFromFlags(o);
  const taskSource = await taskSourceFromFlags(o, inputs, outDir);
  await ensureOutputDir(outDir);
  const summary = await runBatch({ inputs, outDir, taskSource, models, workers: o.workers as number, force: o.force === true, onProgress: progress });
  progress.finish();
  log(describeSummary(summary));
  for (const f of summary.inputs.filter((i) => i.status === 'failed')) log(`failed ${f.input}: ${f.code}: ${f.message}`);
  log(`wrote ${resolve(outDir, SUMMARY_FILE)} and ${resolve(outDir, REPORT_FILE)}`);
  return summary.counts.failed > 0 ? EXIT_SOME_FAILED : 0;
}

function describeSummary(s: BatchSummary): string {
  const c = s.counts;
  return `${c.total} inputs: ${c.done} segmented, ${c.skipped} already done, ${c.failed} failed in ${(s.elapsedMs / 1000).toFixed(1)} s (${s.imagesPerMinute.toFixed(1)} images/min, ${s.workers} worker(s) x ${s.threads ?? 'default'} thread(s))`;
}
