/**
 * Model flags shared by every CLI command, and how they become a Salip instance: the embedded
 * MobileSAM weights unless --sam-encoder/--sam-decoder are given; a CLIP model only when
 * --clip-preset (with its files) is given, otherwise tasks are scored by exemplars.
 */
import { SalipError } from '../core/errors.js';
import { defaultSamFiles } from '../backends/default-models.js';
import type { ClipConfig } from '../models/clip/clip.js';
import type { ClipPresetName } from '../models/clip/clip-presets.js';
import type { SamConfig } from '../models/sam/sam.js';
import { SAM_PRESETS } from '../models/sam/sam-presets.js';
import type { Salip } from '../pipeline/salip.js';
import { createSalipFromSettings, type ModelSettings } from '../batch/cascade-processor.js';
import type { FlagSpec, FlagValue } from './args.js';

export const MODEL_FLAGS: Readonly<Record<string, FlagSpec>> = {
  'sam-preset': {
    type: 'string',
    choices: ['auto', ...Object.keys(SAM_PRESETS)],
    description: 'SAM export family (default: mobilesam for the embedded weights, auto = named from the files for --sam-encoder/--sam-decoder)',
  },
  'sam-encoder': { type: 'string', valueName: '<file.onnx>', description: 'SAM image encoder ONNX file (default: embedded MobileSAM)' },
  'sam-decoder': { type: 'string', valueName: '<file.onnx>', description: 'SAM prompt decoder ONNX file (default: embedded MobileSAM)' },
  'clip-preset': { type: 'string', choices: ['hf', 'openai', 'openclip', 'biomedclip'], description: 'CLIP export family; without it classes are scored by exemplars' },
  'clip-vision': { type: 'string', valueName: '<file.onnx>', description: 'CLIP image tower ONNX file' },
  'clip-text': { type: 'string', valueName: '<file.onnx>', description: 'CLIP text tower ONNX file' },
  'clip-combined': { type: 'string', valueName: '<file.onnx>', description: 'one ONNX graph with both CLIP towers (instead of --clip-vision/--clip-text)' },
  'clip-folder': { type: 'string', valueName: '<dir>', description: 'with --clip-preset hf: a Hugging Face / transformers.js CLIP folder (tokenizer.json, preprocessor_config.json, onnx/*_model.onnx)' },
  'clip-tokenizer': { type: 'string', valueName: '<tokenizer.json>', description: 'tokenizer.json (default: per preset)' },
  quantize: { type: 'boolean', description: 'run int8 copies of the models (made once, kept in ~/.cache/salip; see docs/performance.md)' },
  threads: { type: 'integer', min: 1, description: 'ONNX Runtime intra-op threads (default: the runtime chooses)' },
  worker: { type: 'boolean', default: true, description: "judge segment-everything's masks in a worker thread beside the decoder calls (--no-worker: on the calling thread; same masks)" },
  'prompts-per-run': { type: 'integer', min: 1, description: "grid points per decoder run in segment-everything's exact mode (default 1: batches pay on GPUs only, see docs/performance.md)" },
};

type Options = Record<string, FlagValue | undefined>;

/** SAM configuration from the flags (embedded MobileSAM by default). */
export function samConfigFromFlags(o: Options): SamConfig {
  const threads = o.threads as number | undefined;
  if (o.samEncoder === undefined && o.samDecoder === undefined) {
    if (o.samPreset !== undefined && o.samPreset !== 'mobilesam' && o.samPreset !== 'auto') {
      throw new SalipError('INVALID_ARGUMENT', `--sam-preset ${String(o.samPreset)}: give its files with --sam-encoder and --sam-decoder (only mobilesam is embedded)`);
    }
    return { ...defaultSamFiles(), intraOpThreads: threads, quantize: o.quantize === true };
  }
  if (o.samEncoder === undefined || o.samDecoder === undefined) {
    throw new SalipError('INVALID_ARGUMENT', `--sam-encoder and --sam-decoder go together; got only ${o.samEncoder ? '--sam-encoder' : '--sam-decoder'}`);
  }
  return {
    // Without --sam-preset the family is named from the files' input/output contract.
    preset: (o.samPreset as SamConfig['preset']) ?? 'auto',
    encoder: o.samEncoder as string,
    decoder: o.samDecoder as string,
    intraOpThreads: threads,
    quantize: o.quantize === true,
  };
}

/** CLIP configuration from the flags, or undefined when no CLIP was asked for. */
export function clipConfigFromFlags(o: Options): ClipConfig | undefined {
  const given = ['clipVision', 'clipText', 'clipCombined', 'clipTokenizer', 'clipFolder'].filter((k) => o[k] !== undefined);
  if (o.clipPreset === undefined) {
    if (given.length > 0) throw new SalipError('INVALID_ARGUMENT', '--clip-preset is required with CLIP model files (hf, openai, openclip or biomedclip)');
    return undefined;
  }
  if (o.clipFolder !== undefined && o.clipPreset !== 'hf') {
    throw new SalipError('INVALID_ARGUMENT', `--clip-folder goes with --clip-preset hf (a Hugging Face / transformers.js folder), got --clip-preset ${String(o.clipPreset)}`);
  }
  if (o.clipFolder === undefined && o.clipCombined === undefined && (o.clipVision === undefined || o.clipText === undefined)) {
    throw new SalipError('INVALID_ARGUMENT', `--clip-preset ${String(o.clipPreset)}: give --clip-vision and --clip-text (or --clip-combined, or --clip-folder with hf)`);
  }
  return {
    preset: o.clipPreset as ClipPresetName,
    vision: o.clipVision as string | undefined,
    text: o.clipText as string | undefined,
    combined: o.clipCombined as string | undefined,
    tokenizer: o.clipTokenizer as string | undefined,
    folder: o.clipFolder as string | undefined,
    intraOpThreads: o.threads as number | undefined,
    quantize: o.quantize === true,
  };
}

/**
 * The models the flags describe as plain data (what batch and queue workers receive); the
 * embedded MobileSAM stays `sam: undefined` so each machine resolves its own copy.
 */
export function modelSettingsFromFlags(o: Options): ModelSettings {
  const usesEmbedded = o.samEncoder === undefined && o.samDecoder === undefined;
  const sam = samConfigFromFlags(o);
  return {
    sam: usesEmbedded ? undefined : sam,
    clip: clipConfigFromFlags(o),
    threads: o.threads as number | undefined,
    workers: o.worker !== false,
    promptsPerRun: o.promptsPerRun as number | undefined,
  };
}

/** Creates the Salip instance the flags describe. */
export async function salipFromFlags(o: Options): Promise<Salip> {
  return createSalipFromSettings(modelSettingsFromFlags(o));
}
