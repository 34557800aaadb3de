/**
 * salip eval --images DIR --masks DIR: the paper's protocol on a labelled folder: Dice and IoU
 * per image and on average, for the cascade and the baselines side by side, with optional
 * predicted masks, a JSON report and a compact HTML report with overlays.
 */
import { join } from 'node:path';
import { existsSync, readdirSync } from 'node:fs';
import { SalipError } from '../../core/errors.js';
import { encodeMaskPng } from '../../io/image-codecs.js';
import { readMaskFile, writeFileAtomic } from '../../backends/node-files.js';
import { listAnyImageFiles, maskNameFor, readAnyImageFile } from '../../batch/dicom-input.js';
import { EVAL_MODES, evaluate, type EvalItem, type EvalMode } from '../../pipeline/evaluate.js';
import type { SalipTask } from '../../pipeline/tasks.js';
import type { CommandSpec } from '../args.js';
import type { ProgressReporter } from '../progress.js';
import { MODEL_FLAGS, salipFromFlags } from '../models.js';
import { renderEvalHtml, type ReportPanel } from '../report.js';
import { FAST_FLAGS, OUTPUT_FLAGS, withFastMode, checkDistinctPaths, checkOutputPath, ensureOutputDir, loadTask, type Options } from './shared.js';

export const EVAL_COMMAND: CommandSpec = {
  name: 'eval',
  summary: 'evaluate the cascade and baselines on a labelled folder (Dice, IoU)',
  flags: {
    images: { type: 'string', required: true, valueName: '<dir>', description: 'folder of images' },
    masks: { type: 'string', required: true, valueName: '<dir>', description: 'folder of ground-truth masks with the same file names' },
    task: { type: 'string', valueName: '<preset|file.json>', description: 'task preset or JSON (required for cascade and oracle)' },
    mode: { type: 'string', multiple: true, choices: [...EVAL_MODES, 'all'], description: 'cascade, unprompted, gt-box, oracle, exemplar-box or all (repeatable; default all)' },
    scorer: { type: 'string', choices: ['clip', 'exemplar'], description: 'how the cascade scores candidates (default: clip when a CLIP model is given, else exemplar)' },
    exemplars: { type: 'integer', min: 1, max: 5, default: 3, description: 'exemplars drawn from the folder (excluded from scoring) for the exemplar scorer' },
    seed: { type: 'integer', default: 0, description: 'seed for drawing exemplars' },
    size: { type: 'integer', min: 8, description: 'resize images and masks to size x size (the paper: 256)' },
    limit: { type: 'integer', min: 1, description: 'evaluate only the first N images (sorted by name)' },
    'save-masks': { type: 'string', valueName: '<dir>', description: 'write predicted masks to <dir>/<mode>/<name>.png' },
    json: { type: 'string', valueName: '<report.json>', description: 'write per-image and mean Dice/IoU' },
    report: { type: 'string', valueName: '<report.html>', description: 'write an HTML report with the scores and overlays' },
    ...FAST_FLAGS,
    ...MODEL_FLAGS,
    ...OUTPUT_FLAGS,
  },
  examples: [
    'salip eval --images data/lung_xray/images --masks data/lung_xray/masks --task lungs-cxr --scorer exemplar --exemplars 3 --size 256 --json report.json --report report.html',
    'salip eval --images data/lung_xray/images --masks data/lung_xray/masks --mode gt-box --size 256 --save-masks out --json report.json',
  ],
};

/** A task for modes that need none (gt-box, unprompted): one class, never scored. */
const BASELINE_TASK: SalipTask = { name: 'baseline', classes: [{ name: 'target', prompts: ['target'], topK: 1 }] };

export async function runEval(o: Options, progress: ProgressReporter, log: (s: string) => void): Promise<number> {
  const force = o.force === true;
  const scorer = (o.scorer as string | undefined) ?? (o.clipPreset !== undefined ? 'clip' : 'exemplar');
  const requested = ((o.mode as string[] | undefined) ?? ['all']).flatMap((m) =>
    // 'all' includes the exemplar-box baseline where exemplars are drawn (the exemplar scorer).
    m === 'all' ? EVAL_MODES.filter((e) => e !== 'exemplar-box' || scorer === 'exemplar') : [m as EvalMode],
  );
  const modes = [...new Set(requested)];
  const taskModes = modes.filter((m) => m === 'cascade' || m === 'oracle' || m === 'exemplar-box');
  const needsTask = taskModes.length > 0;
  if (needsTask && o.task === undefined) throw new SalipError('INVALID_ARGUMENT', `--task is required for mode ${taskModes.join(' and ')}`);
  checkOutputPath(o.json as string | undefined, '--json', force);
  checkOutputPath(o.report as string | undefined, '--report', force);
  const saveDir = o.saveMasks as string | undefined;
  checkDistinctPaths(
    [
      ['--json', o.json as string | undefined],
      ['--report', o.report as string | undefined],
      ...modes.map((m): [string, string | undefined] => [`--save-masks (${m})`, saveDir === undefined ? undefined : join(saveDir, m)]),
    ],
    [['--images', o.images as string], ['--masks', o.masks as string]],
  );
  if (saveDir !== undefined && !force) {
    for (const m of modes) {
      const dir = join(saveDir, m);
      if (existsSync(dir) && readdirSync(dir).length > 0) throw new SalipError('OUTPUT_EXISTS', `--save-masks ${saveDir}: ${dir} already holds files; use --force to overwrite them`);
    }
  }
  const task = needsTask ? withFastMode(await loadTask(o.task as string), o) : BASELINE_TASK;
  if (scorer === 'clip' && modes.includes('cascade') && o.clipPreset === undefined) {
    throw new SalipError('INVALID_ARGUMENT', '--scorer clip needs a CLIP model (--clip-preset with --clip-vision and --clip-text)');
  }
  const files = await listAnyImageFiles(o.images as string);
  const selected = o.limit ? files.slice(0, o.limit as number) : files;
  if (selected.length === 0) throw new SalipError('FILE_NOT_FOUND', `--images ${String(o.images)}: no .png/.jpg/DICOM images in the folder`);
  const items: EvalItem[] = [];
  for (const file of selected) {
    const name = file.split(/[\\/]/).pop()!;
    const image = await readAnyImageFile(file);
    // A DICOM image's mask may be a PNG of the same stem (a.dcm -> a.png).
    const maskNames = maskNameFor(name);
    const groundTruth = await readMaskFile(join(o.masks as string, maskNames.find((m) => existsSync(join(o.masks as string, m))) ?? maskNames[0]));
    if (image.width !== groundTruth.width || image.height !== groundTruth.height) {
      throw new SalipError('SIZE_MISMATCH', `${name}: mask ${groundTruth.width}x${groundTruth.height} and image ${image.width}x${image.height} differ in size`);
    }
    items.push({ name, image, groundTruth });
  }
  if (saveDir !== undefined) for (const m of modes) await ensureOutputDir(join(saveDir, m));
  const panels: ReportPanel[] = [];
  const salip = await salipFromFlags(o);
  try {
    const report = await evaluate(salip, items, {
      task,
      modes,
      size: o.size as number | undefined,
      // The exemplar scorer and the exemplar-box baseline describe the class by exemplars drawn from the folder.
      exemplars: (scorer === 'exemplar' && modes.includes('cascade')) || modes.includes('exemplar-box') ? ((o.exemplars as number | undefined) ?? 3) : undefined,
      seed: o.seed as number | undefined,
      onProgress: progress,
      onImage: async (r) => {
        if (saveDir !== undefined) {
          for (const [m, v] of Object.entries(r.modes)) await writeFileAtomic(join(saveDir, m, maskNameFor(r.name).at(-1)!), encodeMaskPng(v!.mask), { force: true });
        }
        if (o.report !== undefined) panels.push({ name: r.name, modes: r.modes });
      },
    });
    progress.finish();
    const header = ['mode'.padEnd(12), 'Dice'.padStart(7), 'IoU'.padStart(7)].join(' ');
    log(`${report.count} images${report.exemplarNames.length ? ` (exemplars: ${report.exemplarNames.join(', ')})` : ''}${o.size ? ` at ${String(o.size)}x${String(o.size)}` : ''}`);
    log(header);
    for (const m of report.modes) log([m.padEnd(12), report.mean[m]!.dice.toFixed(4).padStart(7), report.mean[m]!.iou.toFixed(4).padStart(7)].join(' '));
    if (report.meanDecoderCalls !== undefined) log(`cascade decoder runs per image: ${report.meanDecoderCalls.toFixed(1)}`);
    if (o.json !== undefined) {
      await writeFileAtomic(o.json as string, new TextEncoder().encode(JSON.stringify({ ...report, scorer: needsTask ? scorer : undefined }, null, 1)), { force });
      log(`wrote ${String(o.json)}`);
    }
    if (o.report !== undefined) {
      const sized = new Map(items.map((it) => [it.name, it]));
      const html = renderEvalHtml(report, panels, (name) => sized.get(name)!, o.size as number | undefined);
      await writeFileAtomic(o.report as string, new TextEncoder().encode(html), { force });
      log(`wrote ${String(o.report)}`);
    }
    return 0;
  } finally {
    await salip.dispose();
  }
}
