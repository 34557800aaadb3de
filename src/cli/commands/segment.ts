/**
 * salip segment <image|volume> --task <preset|file.json>: the cascade on one image (PNG/JPEG)
 * or, slice by slice, on a NIfTI volume. Writes the mask (PNG, or NIfTI with the input's
 * geometry), an overlay PNG and a JSON result when asked.
 */
import { gzipSync } from 'node:zlib';
import { SalipError } from '../../core/errors.js';
import { encodeMaskPng, encodePng } from '../../io/image-codecs.js';
import { readNifti, writeNiftiMask } from '../../io/nifti.js';
import { encodeRle } from '../../core/mask.js';
import { readFileBytes, readImageFile, writeFileAtomic } from '../../backends/node-files.js';
import { segmentVolume, type VolumeSliceRecord } from '../../pipeline/volume.js';
import { checkScorable } from '../../batch/task-source.js';
import type { CommandSpec } from '../args.js';
import type { ProgressReporter } from '../progress.js';
import { MODEL_FLAGS, salipFromFlags } from '../models.js';
import { dicomVolumeOptions, isDicomFile, isDirectory, loadDicomModule, readDicomFileInput, readDicomSeriesFolder } from '../../batch/dicom-input.js';
import { EXEMPLAR_FLAGS, FAST_FLAGS, OUTPUT_FLAGS, cascadeOverlay, withFastMode, checkDistinctPaths, checkOutputPath, extensionOf, isVolumePath, loadTask, resultToJson, withExemplars, type Options } from './shared.js';

export const SEGMENT_COMMAND: CommandSpec = {
  name: 'segment',
  summary: 'run the SaLIP cascade on an image or a volume (NIfTI, or a folder holding one DICOM series)',
  positionals: [{ name: 'input', description: 'image (.png, .jpg, DICOM) or volume (.nii, .nii.gz, a DICOM series folder)' }],
  flags: {
    task: { type: 'string', required: true, valueName: '<preset|file.json>', description: 'task preset (lungs-cxr, fetal-head-us, brain-mri, heart-cxr) or task JSON' },
    out: { type: 'string', valueName: '<mask.png|mask.nii.gz|seg.dcm>', description: 'write the final mask (PNG 0/255; NIfTI for volumes; DICOM SEG for DICOM inputs)' },
    overlay: { type: 'string', valueName: '<overlay.png>', description: 'write an overlay: candidates, chosen candidates, final mask (images only)' },
    json: { type: 'string', valueName: '<result.json>', description: 'write the full result (pool, scores, chosen, timings)' },
    class: { type: 'string', description: 'class whose mask --out writes (default: the first)' },
    axis: { type: 'integer', min: 0, max: 2, default: 2, description: 'volume slicing axis (0 x, 1 y, 2 z)' },
    slices: { type: 'string', valueName: '<start:end[:step]>', description: 'volume: segment only these slices (end exclusive); others stay empty' },
    propagate: {
      type: 'boolean',
      inlineInteger: { min: 1, valueName: 'k' },
      description: 'volume: the cascade on key slices only (the middle one and every k-th, default 32), the mask carried to the slices between by SAM prompts (the default for volumes; --no-propagate runs the cascade on every slice; docs/performance.md)',
    },
    'propagate-step': { type: 'integer', min: 1, description: 'volume: the same as --propagate=k' },
    ...FAST_FLAGS,
    ...EXEMPLAR_FLAGS,
    ...MODEL_FLAGS,
    ...OUTPUT_FLAGS,
  },
  examples: [
    'salip segment cxr.png --task lungs-cxr --exemplar-images lungs/images --exemplar-masks lungs/masks --out lungs.png --overlay overlay.png',
    'salip segment ch2.nii.gz --task brain-mri --exemplar-images brain/images --exemplar-masks brain/masks --out brain.nii.gz',
    'salip segment mr-series/ --task brain-mri --exemplar-images brain/images --exemplar-masks brain/masks --out brain-seg.dcm',
  ],
};

export async function runSegment(input: string, o: Options, progress: ProgressReporter, log: (s: string) => void): Promise<number> {
  const force = o.force === true;
  const dicomFolder = await isDirectory(input);
  const dicomFile = !dicomFolder && !isVolumePath(input) && (await isDicomFile(input));
  // Read before the output checks: whether a multi-frame DICOM file is a volume is in its header.
  const dicomInput = dicomFolder ? { volume: await readDicomSeriesFolder(input) } : dicomFile ? await readDicomFileInput(input) : undefined;
  const volume = isVolumePath(input) || dicomInput?.volume !== undefined;
  if (o.out !== undefined) {
    const ext = extensionOf(o.out as string);
    const allowed = [...(volume ? ['.nii', '.nii.gz'] : ['.png']), ...(dicomInput ? ['.dcm'] : [])];
    if (!allowed.includes(ext)) throw new SalipError('INVALID_ARGUMENT', `--out ${String(o.out)}: expected a ${allowed.join(' or ')} file for ${volume ? 'a volume' : 'an image'} input`);
  }
  if (volume && o.overlay !== undefined) throw new SalipError('INVALID_ARGUMENT', '--overlay is for 2-D images; for volumes use --out with .nii.gz');
  checkOutputPath(o.out as string | undefined, '--out', force);
  checkOutputPath(o.overlay as string | undefined, '--overlay', force);
  checkOutputPath(o.json as string | undefined, '--json', force);
  checkDistinctPaths(
    [['--out', o.out as string | undefined], ['--overlay', o.overlay as string | undefined], ['--json', o.json as string | undefined]],
    [['the input', input]],
  );
  // Exemplars drawn from a folder never include the input itself.
  const { task } = await withExemplars(withFastMode(await loadTask(o.task as string), o), o, input);
  // The input is read and checked before the models load, so a bad file fails in milliseconds.
  const axis = (o.axis as 0 | 1 | 2 | undefined) ?? 2;
  const dicomVolume = dicomInput?.volume;
  const nifti = dicomVolume ?? (volume ? readNifti(await readFileBytes(input, 'volume'), { name: input }) : undefined);
  const slices = nifti && o.slices !== undefined ? parseSliceRange(o.slices as string, nifti.dims[axis]) : undefined;
  const dicomImage = dicomInput?.image;
  const image = nifti ? undefined : (dicomImage?.image ?? (await readImageFile(input)));
  const writeSeg = o.out !== undefined && extensionOf(o.out as string) === '.dcm';
  // Still before the models load: a text-only task without CLIP names the flags that fix it.
  checkScorable(task, o.clipPreset !== undefined);
  // Contradicting --propagate flags fail here too, before the models load.
  const propagate = propagateOption(o);
  const salip = await salipFromFlags(o);
  try {
    if (nifti) {
      // NIfTI's y axis usually runs posterior to anterior, so its slices are flipped (segmentVolume's default).
      const dicomOptions = dicomVolume ? dicomVolumeOptions(dicomVolume) : {};
      const className = (o.class as string | undefined) ?? task.classes[0].name;
      const result = await segmentVolume(salip, nifti, task, { axis, slices, className, onProgress: progress, propagate, ...dicomOptions });
      progress.finish();
      const segmented = result.slices.filter((s) => !s.skipped).length;
      const withoutCandidates = result.slices.filter((s) => s.reason === 'no-candidates').length;
      let voxels = 0;
      for (const v of result.mask) voxels += v;
      const note = withoutCandidates > 0 ? ` (${withoutCandidates} had no candidate and stay empty)` : '';
      log(`segmented ${segmented} of ${result.slices.length} slices${provenanceNote(result.slices)}${note}; mask has ${voxels} voxels`);
      if (writeSeg && dicomVolume) {
        const dicom = await loadDicomModule();
        const seg = dicom.writeDicomSeg(dicom.segSourceFromVolume(dicomVolume), [{ label: className, mask: result.mask }]);
        await writeFileAtomic(o.out as string, seg, { force });
        log(`wrote ${String(o.out)}`);
      } else if (o.out !== undefined) {
        const gz = (o.out as string).endsWith('.gz');
        await writeFileAtomic(o.out as string, writeNiftiMask(nifti, result.mask, gz ? { gzip: (b) => new Uint8Array(gzipSync(b)) } : {}), { force });
        log(`wrote ${String(o.out)}`);
      }
      if (o.json !== undefined) {
        await writeFileAtomic(o.json as string, new TextEncoder().encode(JSON.stringify({ task: task.name, dims: result.dims, slices: result.slices }, null, 1)), { force });
        log(`wrote ${String(o.json)}`);
      }
      return 0;
    }
    const result = await salip.segment(image!, task, { onProgress: progress });
    progress.finish();
    const className = (o.class as string | undefined) ?? task.classes[0].name;
    const cls = result.classes[className];
    if (!cls) throw new SalipError('INVALID_ARGUMENT', `--class ${className}: the task has classes ${task.classes.map((c) => c.name).join(', ')}`);
    log(
      `${result.pool.length} candidates, ${result.retrieval.pool.length} scored; ${className}: chose ${cls.chosen.length} (scores ${cls.chosen.map((c) => c.score.toFixed(2)).join(', ')}) in ${(result.timings.total / 1000).toFixed(1)} s`,
    );
    if (writeSeg && dicomImage) {
      const dicom = await loadDicomModule();
      const segments = Object.entries(result.classes).map(([label, c]) => ({ label, mask: c.mask.data }));
      await writeFileAtomic(o.out as string, dicom.writeDicomSeg(dicom.segSourceFromImage(dicomImage), segments), { force });
      log(`wrote ${String(o.out)}`);
    } else if (o.out !== undefined) {
      await writeFileAtomic(o.out as string, encodeMaskPng(cls.mask), { force });
      log(`wrote ${String(o.out)}`);
    }
    if (o.overlay !== undefined) {
      await writeFileAtomic(o.overlay as string, encodePng(cascadeOverlay(image!, result)), { force });
      log(`wrote ${String(o.overlay)}`);
    }
    if (o.json !== undefined) {
      await writeFileAtomic(o.json as string, new TextEncoder().encode(JSON.stringify(resultToJson(result, encodeRle))), { force });
      log(`wrote ${String(o.json)}`);
    }
    return 0;
  } finally {
    await salip.dispose();
  }
}

/**
 * segmentVolume's propagate option from --propagate[=k], --propagate-step k and --no-propagate;
 * undefined (neither given) leaves segmentVolume's default.
 */
export function propagateOption(o: Options): boolean | { step: number } | undefined {
  const flag = o.propagate as boolean | number | undefined;
  const step = o.propagateStep as number | undefined;
  if (step !== undefined && flag === false) throw new SalipError('INVALID_ARGUMENT', '--propagate-step: asks for propagation, but --no-propagate turns it off; give one of them');
  if (step !== undefined && typeof flag === 'number' && flag !== step) {
    throw new SalipError('INVALID_ARGUMENT', `--propagate=${flag} and --propagate-step ${step} disagree; give one of them`);
  }
  if (typeof flag === 'number') return { step: flag };
  if (step !== undefined) return { step };
  return flag;
}

/** " (n by the cascade, r of them because a carried mask looked lost, m carried from a neighbour)" when any slice was carried or re-run; "" otherwise. */
export function provenanceNote(slices: readonly VolumeSliceRecord[]): string {
  const carried = slices.filter((s) => s.source === 'propagation' && !s.skipped).length;
  const cascade = slices.filter((s) => s.source === 'cascade').length;
  const interpolated = slices.filter((s) => s.source === 'interpolation').length;
  const reruns = slices.filter((s) => s.rerun !== undefined && s.source === 'cascade').length;
  if (carried === 0 && reruns === 0) return '';
  const between = interpolated > 0 ? `, ${interpolated} interpolated between carried slices` : '';
  return ` (${cascade} by the cascade${reruns > 0 ? `, ${reruns} of them because a carried mask looked lost` : ''}, ${carried} carried from a neighbour${between})`;
}

/** Parses --slices start:end[:step] (end exclusive, clamped to the axis length). */
export function parseSliceRange(text: string, length: number): number[] {
  const m = /^(\d+):(\d+)(?::(\d+))?$/.exec(text.trim());
  if (!m) throw new SalipError('INVALID_ARGUMENT', `--slices: expected start:end[:step] with whole numbers, got '${text}'`);
  const [start, end, step] = [Number(m[1]), Math.min(Number(m[2]), length), Number(m[3] ?? 1)];
  if (step < 1 || start >= end) throw new SalipError('INVALID_ARGUMENT', `--slices ${text}: expected start < end (axis has ${length} slices) and step >= 1`);
  const out: number[] = [];
  for (let i = start; i < end; i += step) out.push(i);
  return out;
}
