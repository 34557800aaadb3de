/**
 * salip tune --images DIR [--masks DIR]: test-time adaptation of the cascade's parameters by a
 * seeded random search, with the labelled (Dice) or the label-free objective. Prints every trial
 * and writes the tuned task as JSON, ready for --task.
 */
import { dirname, join, resolve } from 'node:path';
import { SalipError } from '../../core/errors.js';
import { listImageFiles, readImageFile, readMaskFile, writeFileAtomic } from '../../backends/node-files.js';
import { tune, type TuneImage } from '../../pipeline/tune.js';
import type { CommandSpec } from '../args.js';
import type { ProgressReporter } from '../progress.js';
import { MODEL_FLAGS, salipFromFlags } from '../models.js';
import { EXEMPLAR_FLAGS, OUTPUT_FLAGS, checkDistinctPaths, checkOutputPath, loadTask, portableTask, withExemplars, type Options } from './shared.js';

export const TUNE_COMMAND: CommandSpec = {
  name: 'tune',
  summary: 'choose the cascade settings (segment-everything, area maximum, proposals, refinement) by random search',
  flags: {
    images: { type: 'string', required: true, valueName: '<dir>', description: 'folder of images to tune on' },
    masks: { type: 'string', valueName: '<dir>', description: 'ground-truth masks (required for --objective labelled)' },
    task: { type: 'string', required: true, valueName: '<preset|file.json>', description: 'task preset or JSON to start from' },
    objective: { type: 'string', choices: ['labelled', 'label-free'], default: 'label-free', description: 'mean Dice against masks, or the label-free score' },
    iterations: { type: 'integer', min: 1, default: 5, description: 'parameter sets to try' },
    'sample-size': { type: 'integer', min: 1, default: 5, description: 'images drawn per parameter set' },
    json: { type: 'string', valueName: '<trials.json>', description: 'write every trial and the best' },
    'task-out': { type: 'string', valueName: '<task.json>', description: 'write the tuned task, classes with their prompts and exemplar paths (usable as is with --task)' },
    ...EXEMPLAR_FLAGS,
    ...MODEL_FLAGS,
    ...OUTPUT_FLAGS,
  },
  examples: ['salip tune --images us/images --masks us/masks --task fetal-head-us --objective labelled --exemplar-images us/images --exemplar-masks us/masks --task-out tuned.json'],
};

export async function runTune(o: Options, progress: ProgressReporter, log: (s: string) => void): Promise<number> {
  const force = o.force === true;
  checkOutputPath(o.json as string | undefined, '--json', force);
  checkOutputPath(o.taskOut as string | undefined, '--task-out', force);
  checkDistinctPaths([['--json', o.json as string | undefined], ['--task-out', o.taskOut as string | undefined]], []);
  const objective = (o.objective as 'labelled' | 'label-free' | undefined) ?? 'label-free';
  if (objective === 'labelled' && o.masks === undefined) throw new SalipError('INVALID_ARGUMENT', '--objective labelled needs --masks');
  const { task, names } = await withExemplars(await loadTask(o.task as string), o);
  const files = (await listImageFiles(o.images as string)).filter((f) => !names.includes(f.split(/[\\/]/).pop()!));
  const images: TuneImage[] = [];
  for (const file of files) {
    const name = file.split(/[\\/]/).pop()!;
    images.push({ image: await readImageFile(file), groundTruth: o.masks !== undefined ? await readMaskFile(join(o.masks as string, name)) : undefined });
  }
  const salip = await salipFromFlags(o);
  try {
    const result = await tune(salip, images, {
      task,
      objective,
      iterations: o.iterations as number | undefined,
      sampleSize: o.sampleSize as number | undefined,
      seed: o.seed as number | undefined,
      onProgress: progress,
    });
    progress.finish();
    for (const [i, t] of result.trials.entries()) {
      log(
        `trial ${i + 1}: score ${t.score.toFixed(4)} (label-free ${t.labelFree.toFixed(4)}${t.labelled !== undefined ? `, Dice ${t.labelled.toFixed(4)}` : ''}) ${JSON.stringify(t.params)}`,
      );
    }
    log(`best (${objective}): ${JSON.stringify(result.best.params)} score ${result.best.score.toFixed(4)}`);
    if (o.json !== undefined) {
      await writeFileAtomic(o.json as string, new TextEncoder().encode(JSON.stringify({ objective, best: result.best, trials: result.trials, sample: result.sample }, null, 1)), { force });
      log(`wrote ${String(o.json)}`);
    }
    if (o.taskOut !== undefined) {
      const portable = portableTask(result.task, dirname(resolve(o.taskOut as string)));
      await writeFileAtomic(o.taskOut as string, new TextEncoder().encode(JSON.stringify(portable, null, 1)), { force });
      log(`wrote ${String(o.taskOut)}`);
    }
    return 0;
  } finally {
    await salip.dispose();
  }
}
