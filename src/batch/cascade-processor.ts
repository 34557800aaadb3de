/**
 * The default processing function: the SaLIP cascade on an image or single-frame DICOM (mask PNG)
 * or, slice by slice, on a NIfTI volume or multi-frame DICOM (gzipped NIfTI mask with the input's
 * geometry). Also the plain-data model settings a worker process turns into its own Salip
 * instance (its own ONNX Runtime sessions).
 */
import { gzipSync } from 'node:zlib';
import { SalipError } from '../core/errors.js';
import { readFileBytes, readImageFile } from '../backends/node-files.js';
import { nodeBackend } from '../backends/node.js';
import { defaultSamFiles } from '../backends/default-models.js';
import { encodeMaskPng } from '../io/image-codecs.js';
import { readNifti, writeNiftiMask, type NiftiVolume } from '../io/nifti.js';
import type { RgbImage } from '../core/types.js';
import { dicomVolumeOptions, readDicomFileInput } from './dicom-input.js';
import type { ClipConfig } from '../models/clip/clip.js';
import { createSalip, type Salip } from '../pipeline/salip.js';
import type { SamConfig } from '../models/sam/sam.js';
import type { SalipTask } from '../pipeline/tasks.js';
import { segmentVolume, type SegmentVolumeOptions } from '../pipeline/volume.js';
import type { InputJob, InputProcessor, ProcessedInput } from './job.js';
import { resolveTaskSource, type TaskSource } from './task-source.js';

/** The models of a run as plain data, so every worker process can build its own sessions. */
export interface ModelSettings {
  /** Undefined: the embedded MobileSAM of the machine that runs the job. */
  readonly sam?: SamConfig;
  readonly clip?: ClipConfig;
  /** ONNX Runtime intra-op threads per session (undefined: the runtime chooses). */
  readonly threads?: number;
  /** Judge segment-everything's masks in a worker thread (createSalip's `workers`). */
  readonly workers?: boolean;
  readonly promptsPerRun?: number;
}

/** A processor with the resources behind it. */
export interface ProcessorHandle {
  readonly process: InputProcessor;
  dispose(): Promise<void>;
}

/** What a worker process receives to build its processor. */
export interface ProcessorInit {
  readonly taskSource: TaskSource;
  readonly models: ModelSettings;
}

/** Creates the Salip instance the settings describe. */
export function createSalipFromSettings(settings: ModelSettings): Promise<Salip> {
  return createSalip({
    backend: nodeBackend({ intraOpThreads: settings.threads }),
    sam: { ...(settings.sam ?? defaultSamFiles()), intraOpThreads: settings.threads },
    clip: settings.clip ? { ...settings.clip, intraOpThreads: settings.threads } : undefined,
    workers: settings.workers !== false,
    promptsPerRun: settings.promptsPerRun,
  });
}

/**
 * The cascade as a processing function over one Salip instance; the mask is of the task's first
 * class. `volumeOptions.propagate` chooses how volumes are segmented (default: segmentVolume's,
 * propagation).
 */
export function cascadeProcessor(salip: Salip, task: SalipTask, volumeOptions: Pick<SegmentVolumeOptions, 'propagate'> = {}): InputProcessor {
  const className = task.classes[0].name;
  const segmentImageInput = async (image: RgbImage): Promise<ProcessedInput> => {
    const result = await salip.segment(image, task);
    const mask = result.classes[className].mask;
    let area = 0;
    for (const v of mask.data) area += v ? 1 : 0;
    return { bytes: encodeMaskPng(mask), stats: { candidates: result.pool.length, area } };
  };
  const segmentVolumeInput = async (volume: NiftiVolume, options: SegmentVolumeOptions): Promise<ProcessedInput> => {
    const result = await segmentVolume(salip, volume, task, { className, ...volumeOptions, ...options });
    let voxels = 0;
    for (const v of result.mask) voxels += v;
    const bytes = writeNiftiMask(volume, result.mask, { gzip: (b) => new Uint8Array(gzipSync(b)) });
    return { bytes, stats: { slices: result.slices.filter((s) => !s.skipped).length, area: voxels } };
  };
  return async (job: InputJob): Promise<ProcessedInput> => {
    if (job.kind === 'volume') return segmentVolumeInput(readNifti(await readFileBytes(job.input, 'volume'), { name: job.input }), {});
    if (job.kind === 'dicom' || job.kind === 'dicom-volume') {
      // The segment command's loader: a multi-frame object with per-frame positions is a volume.
      const dicom = await readDicomFileInput(job.input);
      if ((dicom.volume !== undefined) !== (job.kind === 'dicom-volume')) {
        throw new SalipError('INVALID_ARGUMENT', `input ${job.input}: changed since it was listed (now ${dicom.volume ? 'a volume' : 'an image'}); run the batch again`);
      }
      return dicom.volume ? segmentVolumeInput(dicom.volume, dicomVolumeOptions(dicom.volume)) : segmentImageInput(dicom.image.image);
    }
    if (job.kind !== 'image') throw new SalipError('UNSUPPORTED_FORMAT', `input ${job.input}: not an image, NIfTI volume or DICOM file`);
    return segmentImageInput(await readImageFile(job.input));
  };
}

/** The default processor of a worker: the task rebuilt from its source, the models loaded once. */
export async function createCascadeProcessor(init: ProcessorInit): Promise<ProcessorHandle> {
  const task = await resolveTaskSource(init.taskSource);
  const salip = await createSalipFromSettings(init.models);
  return { process: cascadeProcessor(salip, task), dispose: () => salip.dispose() };
}

/**
 * Loads a processor: the cascade, or `createProcessor(init)` exported by the module at
 * `modulePath` (a documented seam: apps and tests put in another segmenter this way).
 */
export async function loadProcessor(init: ProcessorInit, modulePath?: string): Promise<ProcessorHandle> {
  if (modulePath === undefined) return createCascadeProcessor(init);
  const { pathToFileURL } = await import('node:url');
  const mod = (await import(pathToFileURL(modulePath).href)) as { createProcessor?: (init: ProcessorInit) => ProcessorHandle | Promise<ProcessorHandle> };
  if (typeof mod.createProcessor !== 'function') {
    throw new SalipError('INVALID_ARGUMENT', `processor module ${modulePath}: expected it to export createProcessor(init)`);
  }
  return mod.createProcessor(init);
}
