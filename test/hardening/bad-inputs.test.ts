/**
 * Bad inputs, one row each, through the public paths only (the API of src/index.ts and
 * src/node.ts, and the CLI's main via runCli). Each row names the input, the action, the
 * SalipError code it must produce and a fragment its message must contain; CLI rows also check
 * exit status 2 and a one-line `salip: <CODE>: <message>` without a stack trace. The "must work"
 * rows (16-bit, RGBA and palette PNGs, a 1 x 1 image) assert success instead.
 */
import { mkdirSync, mkdtempSync, promises as fsp, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode as encodeFastPng } from 'fast-png';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runCli } from '../../src/cli/run.js';
import {
  createClipModel,
  createSalip,
  createSamModel,
  decodeImage,
  encodeMaskPng,
  encodePng,
  evaluate,
  isSalipError,
  maskArea,
  nodeBackend,
  parseTaskJson,
  readImageFile,
  readNifti,
  resolveTask,
  segmentVolume,
  type ClipModel,
  type Salip,
  type SalipErrorCode,
  type SalipTask,
  type SamAdapterModel,
  type SamModel,
  type Scorer,
} from '../../src/node.js';
import { fakeOpenClipTowers, fakeTextTower, fakeVisionTower } from '../helpers/clip-fake-models.js';
import { createFakeSam, testImage } from '../helpers/fake-sam.js';
import { fakeDecoderWithWrongInput, fakeEncoderDeclaring, fakeSamEncoder, fakeSingleMaskDecoder } from '../helpers/sam-fake-models.js';

/** Scores every candidate by the brightness under its box (no CLIP needed). */
const brightness: Scorer = {
  name: 'brightness',
  async score(ctx) {
    const n = ctx.candidates.length;
    const scores = new Float32Array(ctx.classes.length * n);
    ctx.candidates.forEach((r, i) => {
      const [x, y] = r.bbox;
      for (let c = 0; c < ctx.classes.length; c++) scores[c * n + i] = ctx.image.data[(y * ctx.image.width + x) * 3];
    });
    return { classNames: ctx.classes.map((c) => c.name), candidateCount: n, scores };
  },
};

/** A task that gives the TypeScript fake SAM a pool of candidates. */
const TASK: SalipTask = {
  name: 'bright',
  // The fake SAM's geometry is checked at the image's own size.
  workingSize: null,
  classes: [{ name: 'organ', prompts: ['a bright organ'], topK: 1 }],
  everything: { pointsPerSide: 4, predIouThresh: 0.8, stabilityScoreThresh: 0.3 },
};

const IMAGE = testImage(32, 32, [5, 5, 20, 20]);

let dir: string;
/** Files written once for the rows. */
const f: Record<string, string> = {};
/** Model flags naming files that do not exist: a row that fails on its input proves the input was read before any model. */
let noModels: string[];
/** Model flags naming tiny fake SAM models. */
let fakeModels: string[];
let onnxSam: SamAdapterModel;
let onnxSalip: Salip;
let fakeSalip: Salip;
let clip: ClipModel;

// --- byte fixtures -------------------------------------------------------------------------

const png = encodePng({ width: 40, height: 30, data: Uint8Array.from({ length: 3600 }, (_, i) => (i * 7) % 256) });
const jpg = new Uint8Array(jpeg.encode({ width: 40, height: 30, data: Uint8Array.from({ length: 4800 }, (_, i) => (i * 13) % 256) }, 90).data);

function withIhdrSize(bytes: Uint8Array, width: number, height: number): Uint8Array {
  const patched = bytes.slice();
  const view = new DataView(patched.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  return patched;
}

function flipByte(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at] ^= 0xff;
  return out;
}

/** Overwrites the JPEG's first Huffman table (DHT segment) with 0xff bytes. */
function corruptHuffman(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  let at = 2;
  while (!(out[at] === 0xff && out[at + 1] === 0xc4)) at += 2 + ((out[at + 2] << 8) | out[at + 3]);
  out.fill(0xff, at + 5, at + 25);
  return out;
}

/** Offset of the JPEG's start-of-scan marker. */
function scanStart(bytes: Uint8Array): number {
  for (let i = 2; i < bytes.length - 1; i++) if (bytes[i] === 0xff && bytes[i + 1] === 0xda) return i;
  throw new Error('no SOS');
}

/** A hand-laid single-file NIfTI-1 (little-endian, vox_offset 352). */
function nifti(dim: number[], datatype: number, bitpix: number, voxelBytes: number): Uint8Array {
  const bytes = new Uint8Array(352 + voxelBytes);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, 348, true);
  dim.forEach((d, i) => view.setInt16(40 + 2 * i, d, true));
  view.setInt16(70, datatype, true);
  view.setInt16(72, bitpix, true);
  [1, 1, 1, 1].forEach((p, i) => view.setFloat32(76 + 4 * i, p, true));
  view.setFloat32(108, 352, true);
  view.setFloat32(112, 1, true);
  bytes.set([0x6e, 0x2b, 0x31], 344); // "n+1"
  return bytes;
}

function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

// --- running rows --------------------------------------------------------------------------

interface Outcome {
  code: string;
  message: string;
}

/** Runs the CLI; returns the diagnosed code and message after checking exit 2, one line, no stack. */
async function cliError(...argv: string[]): Promise<Outcome> {
  let err = '';
  const mute = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  let status: number;
  try {
    status = await runCli(main, argv, { stderr: { write: (s: string) => (err += s) }, exit: () => undefined });
  } finally {
    mute.mockRestore();
  }
  expect(status, err).toBe(2);
  expect(err).not.toMatch(/\n\s+at /);
  const match = /^salip: ([A-Z_]+): (.*)\n$/s.exec(err);
  expect(match, err).not.toBeNull();
  return { code: match![1], message: match![2] };
}

/** Runs the CLI and expects success. */
async function cliOk(...argv: string[]): Promise<void> {
  let err = '';
  const mute = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const status = await runCli(main, argv, { stderr: { write: (s: string) => (err += s) }, exit: () => undefined });
    expect(err).toBe('');
    expect(status).toBe(0);
  } finally {
    mute.mockRestore();
  }
}

/** The SalipError an action throws or rejects with; anything else (or success) fails the row. */
async function apiError(action: () => unknown): Promise<Outcome> {
  try {
    await action();
  } catch (error) {
    if (!isSalipError(error)) throw new Error(`expected a SalipError, got ${String(error)}`, { cause: error });
    return { code: error.code, message: error.message };
  }
  throw new Error('expected a SalipError, but the action succeeded');
}

interface BadInputRow {
  what: string;
  /** Returns the diagnosed error (apiError or cliError). */
  action: () => Promise<Outcome>;
  code: SalipErrorCode;
  fragment: string | RegExp;
}

const rows: BadInputRow[] = [
  // Images
  { what: 'PNG with a corrupt byte in its image data', action: () => apiError(() => decodeImage(flipByte(png, 60), { name: 'scan.png' })), code: 'DECODE_FAILED', fragment: 'scan.png: could not be decoded as PNG' },
  { what: 'PNG truncated inside its image data', action: () => apiError(() => decodeImage(png.slice(0, 200), { name: 'cut.png' })), code: 'DECODE_FAILED', fragment: 'cut.png: could not be decoded as PNG' },
  { what: 'PNG truncated inside its last chunk', action: () => apiError(() => decodeImage(png.slice(0, png.length - 6))), code: 'DECODE_FAILED', fragment: 'truncated' },
  { what: 'PNG cut inside its signature', action: () => apiError(() => decodeImage(png.slice(0, 4), { name: 'stub.png' })), code: 'DECODE_FAILED', fragment: 'stub.png: could not be decoded as PNG (only 4 bytes' },
  { what: 'PNG cut before the end of IHDR', action: () => apiError(() => decodeImage(png.slice(0, 20))), code: 'DECODE_FAILED', fragment: 'no IHDR chunk' },
  { what: 'JPEG with a corrupt Huffman table', action: () => apiError(() => decodeImage(corruptHuffman(jpg), { name: 'us.jpg' })), code: 'DECODE_FAILED', fragment: 'us.jpg: could not be decoded as JPEG' },
  { what: 'JPEG truncated before its frame header', action: () => apiError(() => decodeImage(jpg.slice(0, 100))), code: 'DECODE_FAILED', fragment: 'no frame header found; truncated?' },
  { what: 'JPEG truncated inside its scan data', action: () => apiError(() => decodeImage(jpg.slice(0, scanStart(jpg) + 40))), code: 'DECODE_FAILED', fragment: 'could not be decoded as JPEG' },
  { what: 'a text file given as an image', action: () => apiError(() => decodeImage(new TextEncoder().encode('not an image'), { name: 'notes.png' })), code: 'UNSUPPORTED_FORMAT', fragment: 'notes.png: expected PNG or JPEG data' },
  { what: 'zero-width PNG', action: () => apiError(() => decodeImage(withIhdrSize(png, 0, 30))), code: 'INVALID_IMAGE', fragment: 'expected a non-empty image, the header says 0 x 30' },
  { what: 'PNG beyond a configured pixel limit', action: () => apiError(() => decodeImage(png, { maxPixels: 1000 })), code: 'INVALID_IMAGE', fragment: '40 x 30 = 1200 pixels is more than the limit of 1000' },
  { what: 'JPEG beyond a configured pixel limit', action: () => apiError(() => decodeImage(jpg, { maxPixels: 1000 })), code: 'INVALID_IMAGE', fragment: 'more than the limit of 1000' },
  { what: 'PNG header claiming 20000 x 20000 (default limit, never allocated)', action: () => apiError(() => decodeImage(withIhdrSize(png, 20000, 20000))), code: 'INVALID_IMAGE', fragment: 'more than the limit of 100000000' },
  { what: 'image file that does not exist', action: () => apiError(() => readImageFile(join(dir, 'absent.png'))), code: 'FILE_NOT_FOUND', fragment: 'absent.png does not exist' },
  { what: 'RgbImage whose data is too short', action: () => apiError(() => fakeSalip.segment({ width: 4, height: 4, data: new Uint8Array(10) }, TASK)), code: 'INVALID_IMAGE', fragment: 'segment: image: expected an RgbImage' },
  { what: 'RgbImage of width 0', action: () => apiError(() => onnxSalip.segmentWithBoxes({ width: 0, height: 4, data: new Uint8Array(0) }, [[0, 0, 1, 1]])), code: 'INVALID_IMAGE', fragment: 'segmentWithBoxes: image' },

  // Models
  { what: 'truncated ONNX file', action: () => apiError(() => nodeBackend().loadModel(f.truncatedOnnx)), code: 'MODEL_LOAD_FAILED', fragment: 'truncated.onnx": Load model from' },
  { what: 'truncated SAM decoder bytes', action: () => apiError(() => createSamModel(nodeBackend(), { preset: 'sam', encoder: fakeSamEncoder(), decoder: fakeSingleMaskDecoder().slice(0, 300) })), code: 'MODEL_LOAD_FAILED', fragment: '"SAM decoder"' },
  { what: 'model file that does not exist', action: () => apiError(() => createSamModel(nodeBackend(), { preset: 'sam', encoder: join(dir, 'gone.onnx'), decoder: fakeSingleMaskDecoder() })), code: 'FILE_NOT_FOUND', fragment: 'gone.onnx" does not exist' },
  { what: 'SAM decoder with a misnamed input', action: () => apiError(() => createSamModel(nodeBackend(), { preset: 'sam', encoder: fakeSamEncoder(), decoder: fakeDecoderWithWrongInput() })), code: 'MODEL_CONTRACT', fragment: 'expected input "point_coords", found inputs' },
  { what: 'SAM encoder with a 512 x 512 input for a 1024 preset', action: () => apiError(() => createSamModel(nodeBackend(), { preset: 'sam', encoder: fakeEncoderDeclaring([1, 3, 512, 512]), decoder: fakeSingleMaskDecoder() })), code: 'MODEL_CONTRACT', fragment: 'SAM encoder: input "input": expected [1, 3, 1024, 1024]' },
  { what: 'SAM encoder and decoder disagreeing on the embedding shape', action: () => apiError(() => createSamModel(nodeBackend(), { preset: 'sam', encoder: fakeEncoderDeclaring([1, 3, 1024, 1024], [1, 128, 64, 64]), decoder: fakeSingleMaskDecoder() })), code: 'MODEL_CONTRACT', fragment: 'image_embeddings' },
  { what: 'CLIP towers with different embedding widths', action: () => apiError(() => createClipModel(nodeBackend(), { preset: 'hf', vision: fakeVisionTower({ dim: 4 }), text: fakeTextTower({ dim: 8 }) })), code: 'MODEL_CONTRACT', fragment: 'expected the same width in both towers (image 4), found text 8' },
  { what: 'CLIP image tower with a rank-3 input', action: () => apiError(() => createClipModel(nodeBackend(), { preset: 'hf', vision: fakeVisionTower({ rank: 3 }), text: fakeTextTower() })), code: 'MODEL_CONTRACT', fragment: "CLIP vision: input 'pixel_values' rank" },
  { what: 'CLIP tokenizer.json that is not JSON', action: () => apiError(() => createClipModel(nodeBackend(), { preset: 'hf', vision: fakeVisionTower(), text: fakeTextTower(), tokenizer: '{"model": ' })), code: 'DECODE_FAILED', fragment: 'tokenizer.json: expected JSON text' },
  { what: 'CLIP image batch holding null', action: () => apiError(() => clip.embedImages([IMAGE, null as never])), code: 'INVALID_IMAGE', fragment: 'embedImages images[1]: expected an RgbImage' },
  { what: 'CLIP texts that are not strings', action: () => apiError(() => clip.embedTexts([42 as never])), code: 'INVALID_ARGUMENT', fragment: 'texts[0]: expected a string' },
  {
    what: 'ONNX Runtime refusing a feed of the wrong shape (wrapped with model and input)',
    action: async () => {
      const session = await nodeBackend().loadModel(fakeSamEncoder(), { label: 'SAM encoder' });
      try {
        return await apiError(() => session.run({ input: { type: 'float32', dims: [1, 3, 512, 512], data: new Float32Array(3 * 512 * 512) } }));
      } finally {
        await session.dispose();
      }
    },
    code: 'MODEL_RUN_FAILED',
    fragment: 'SAM encoder: running the model failed with feeds input float32[1,3,512,512]',
  },

  // Prompts (the real SAM adapter on tiny ONNX models, and a model-independent check)
  { what: 'NaN box', action: () => apiError(() => onnxSalip.segmentWithBoxes(IMAGE, [[NaN, 0, 10, 10]])), code: 'INVALID_PROMPT', fragment: 'prompts[0].box: expected four finite numbers' },
  { what: 'infinite point', action: () => apiError(() => onnxSalip.segmentWithPrompts(IMAGE, [{ points: [{ x: 3, y: Infinity, label: 1 }] }])), code: 'INVALID_PROMPT', fragment: 'prompts[0].points[0]: expected finite x and y' },
  { what: 'NaN point among valid prompts', action: () => apiError(() => onnxSalip.segmentWithPrompts(IMAGE, [{ box: [1, 1, 5, 5] }, { points: [{ x: NaN, y: 2, label: 1 }] }])), code: 'INVALID_PROMPT', fragment: 'prompts[1].points[0]' },
  { what: 'box outside the image', action: () => apiError(() => onnxSalip.segmentWithBoxes(IMAGE, [[10, 10, 40, 20]])), code: 'INVALID_PROMPT', fragment: 'is outside the 32x32 image' },
  { what: 'point outside the image', action: () => apiError(() => onnxSalip.segmentWithPrompts(IMAGE, [{ points: [{ x: -5, y: 4, label: 1 }] }])), code: 'INVALID_PROMPT', fragment: '(-5, 4) is outside the 32x32 image' },
  { what: 'inverted box', action: () => apiError(() => onnxSalip.segmentWithBoxes(IMAGE, [[20, 5, 10, 15]])), code: 'INVALID_PROMPT', fragment: 'is inverted (expected x1 >= x0 and y1 >= y0)' },
  { what: 'point label 2', action: () => apiError(() => onnxSalip.segmentWithPrompts(IMAGE, [{ points: [{ x: 3, y: 3, label: 2 as 1 }] }])), code: 'INVALID_PROMPT', fragment: 'expected 0 (background) or 1 (foreground)' },
  { what: 'inverted box given to a custom SamModel (checked before the model)', action: () => apiError(() => fakeSalip.segmentWithBoxes(IMAGE, [[9, 9, 2, 2]])), code: 'INVALID_PROMPT', fragment: 'inverted' },
  { what: 'boxes that are not an array', action: () => apiError(() => fakeSalip.segmentWithBoxes(IMAGE, '1,2,3,4' as never)), code: 'INVALID_ARGUMENT', fragment: 'boxes: expected an array' },

  // The cascade
  { what: 'empty candidate pool (every candidate at or above the area maximum)', action: () => apiError(() => fakeSalip.segment(IMAGE, { ...TASK, maxArea: 1 })), code: 'EMPTY_CANDIDATE_POOL', fragment: /stage 1 gave [1-9]\d*; [1-9]\d* at or above the area maximum/ },
  { what: 'class with an empty prompt ensemble', action: () => apiError(() => fakeSalip.segment(IMAGE, { name: 't', classes: [{ name: 'organ', prompts: [] }] })), code: 'INVALID_TASK', fragment: 'classes[0].prompts: expected at least one sentence (empty prompt ensemble)' },
  { what: 'invalid task JSON', action: () => apiError(() => parseTaskJson('{"classes": [', 'task.json')), code: 'INVALID_TASK', fragment: 'task.json: not valid JSON' },
  { what: 'unknown task preset', action: () => apiError(() => resolveTask('liver-ct')), code: 'INVALID_TASK', fragment: "unknown preset 'liver-ct'" },
  { what: 'pointsPerSide far too large (would not fit in memory)', action: () => apiError(() => fakeSalip.segment(IMAGE, { ...TASK, everything: { pointsPerSide: 1e6 } })), code: 'INVALID_ARGUMENT', fragment: 'pointsPerSide' },
  { what: 'segmentEverything options of null', action: () => apiError(() => fakeSalip.segmentEverything(IMAGE, null as never)), code: 'INVALID_ARGUMENT', fragment: 'segmentEverything: options: expected an options object' },
  { what: 'mask and image of different sizes in evaluate()', action: () => apiError(() => evaluate(fakeSalip, [{ name: 'a.png', image: IMAGE, groundTruth: { width: 16, height: 16, data: new Uint8Array(256) } }], { task: TASK, modes: ['gt-box'] })), code: 'SIZE_MISMATCH', fragment: 'a.png: mask is 16x16 but the image is 32x32' },

  // NIfTI
  { what: '4-D NIfTI', action: () => apiError(() => readNifti(nifti([4, 2, 2, 2, 3, 1, 1, 1], 2, 8, 24), { name: 'fmri.nii' })), code: 'UNSUPPORTED_FORMAT', fragment: 'fmri.nii: 4-D NIfTI with 3 volumes is not supported' },
  { what: 'NIfTI of an unsupported datatype', action: () => apiError(() => readNifti(nifti([3, 2, 2, 2, 1, 1, 1, 1], 32, 64, 64), { name: 'complex.nii' })), code: 'UNSUPPORTED_FORMAT', fragment: 'NIfTI datatype complex64 is not supported' },
  { what: 'truncated NIfTI', action: () => apiError(() => readNifti(nifti([3, 4, 4, 4, 1, 1, 1, 1], 2, 8, 10), { name: 'cut.nii' })), code: 'DECODE_FAILED', fragment: 'cut.nii: truncated NIfTI: expected 64 bytes of voxel data' },

  // The CLI (files and folders)
  { what: 'CLI: input image that does not exist (before loading models)', action: () => cliError('segment', join(dir, 'absent.png'), '--task', 'lungs-cxr', ...noModels), code: 'FILE_NOT_FOUND', fragment: 'absent.png does not exist' },
  { what: 'CLI: corrupt PNG input', action: () => cliError('everything', f.corruptPng, ...noModels), code: 'DECODE_FAILED', fragment: 'corrupt.png: could not be decoded as PNG' },
  { what: 'CLI: 4-D NIfTI input (before loading models)', action: () => cliError('segment', f.fourD, '--task', 'brain-mri', ...noModels), code: 'UNSUPPORTED_FORMAT', fragment: '4-D NIfTI' },
  { what: 'CLI: NIfTI of an unsupported datatype', action: () => cliError('segment', f.complexNii, '--task', 'brain-mri', ...noModels), code: 'UNSUPPORTED_FORMAT', fragment: 'complex64' },
  { what: 'CLI: task file with invalid JSON', action: () => cliError('segment', f.image, '--task', f.badJson, ...noModels), code: 'INVALID_TASK', fragment: 'bad.json: not valid JSON' },
  { what: 'CLI: task file whose class has an empty prompt ensemble', action: () => cliError('segment', f.image, '--task', f.emptyEnsemble, ...noModels), code: 'INVALID_TASK', fragment: 'empty prompt ensemble' },
  { what: 'CLI: task file that does not exist', action: () => cliError('segment', f.image, '--task', join(dir, 'absent.json'), ...noModels), code: 'FILE_NOT_FOUND', fragment: '--task file' },
  { what: 'CLI: task path that is a folder', action: () => cliError('segment', f.image, '--task', f.imagesDir, ...noModels), code: 'FILE_UNREADABLE', fragment: 'it is a directory' },
  { what: "CLI: --task 'constructor' (not a preset, though an Object key)", action: () => cliError('segment', f.image, '--task', 'constructor', ...noModels), code: 'INVALID_TASK', fragment: "'constructor' is neither a preset" },
  { what: 'CLI: output path that exists, without --force', action: () => cliError('everything', f.image, '--json', f.existing, ...noModels), code: 'OUTPUT_EXISTS', fragment: 'use --force' },
  { what: 'CLI: output folder missing', action: () => cliError('everything', f.image, '--json', join(dir, 'no', 'such', 'records.json'), ...noModels), code: 'OUTPUT_DIR_MISSING', fragment: 'does not exist' },
  { what: 'CLI: output path equal to the input image, even with --force', action: () => cliError('segment', f.image, '--task', 'lungs-cxr', '--out', f.image, '--force', ...noModels), code: 'INVALID_ARGUMENT', fragment: 'the same path as the input' },
  { what: 'CLI: two outputs with the same path', action: () => cliError('everything', f.image, '--json', join(dir, 'twice.out'), '--overlay', join(dir, 'twice.out'), ...noModels), code: 'INVALID_ARGUMENT', fragment: 'the same path as --json' },
  { what: 'CLI: --save-masks that would write into the ground-truth folder', action: () => cliError('eval', '--images', f.imagesDir, '--masks', join(dir, 'gt', 'gt-box'), '--mode', 'gt-box', '--save-masks', join(dir, 'gt'), '--force', ...noModels), code: 'INVALID_ARGUMENT', fragment: 'the same path as --masks' },
  { what: 'CLI: --save-masks below a plain file', action: () => cliError('eval', '--images', f.imagesDir, '--masks', f.masksDir, '--mode', 'gt-box', '--save-masks', join(f.existing, 'sub'), ...noModels), code: 'OUTPUT_WRITE_FAILED', fragment: 'cannot create output folder' },
  { what: 'CLI: image folder that does not exist', action: () => cliError('eval', '--images', join(dir, 'nowhere'), '--masks', f.masksDir, '--mode', 'gt-box', ...noModels), code: 'FILE_NOT_FOUND', fragment: 'image directory' },
  { what: 'CLI: image folder that is a file', action: () => cliError('eval', '--images', f.image, '--masks', f.masksDir, '--mode', 'gt-box', ...noModels), code: 'FILE_UNREADABLE', fragment: 'is a file, expected a directory' },
  {
    what: 'CLI: unreadable image folder (permission denied)',
    action: () => {
      vi.spyOn(fsp, 'readdir').mockRejectedValueOnce(errnoError('EACCES'));
      return cliError('eval', '--images', f.imagesDir, '--masks', f.masksDir, '--mode', 'gt-box', ...noModels);
    },
    code: 'FILE_UNREADABLE',
    fragment: 'permission denied',
  },
  { what: 'CLI: ground-truth mask missing for an image', action: () => cliError('eval', '--images', f.imagesDir, '--masks', f.partialMasksDir, '--mode', 'gt-box', ...noModels), code: 'FILE_NOT_FOUND', fragment: 'mask' },
  { what: 'CLI: eval with mask and image of different sizes (before loading models)', action: () => cliError('eval', '--images', f.imagesDir, '--masks', f.smallMasksDir, '--mode', 'gt-box', ...noModels), code: 'SIZE_MISMATCH', fragment: 'differ in size' },
  { what: 'CLI: truncated ONNX given as the SAM encoder', action: () => cliError('everything', f.image, '--sam-preset', 'sam', '--sam-encoder', f.truncatedOnnx, '--sam-decoder', f.decoder), code: 'MODEL_LOAD_FAILED', fragment: 'truncated.onnx' },
  { what: 'CLI: unknown flag', action: () => cliError('everything', f.image, '--pointz', '4'), code: 'INVALID_ARGUMENT', fragment: '--pointz: unknown option' },
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'salip-bad-'));
  const put = (name: string, bytes: Uint8Array | string): string => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  f.image = put('image.png', encodePng(IMAGE));
  f.corruptPng = put('corrupt.png', flipByte(png, 60));
  f.fourD = put('fmri.nii', nifti([4, 2, 2, 2, 3, 1, 1, 1], 2, 8, 24));
  f.complexNii = put('complex.nii', nifti([3, 2, 2, 2, 1, 1, 1, 1], 32, 64, 64));
  f.badJson = put('bad.json', '{"classes": [');
  f.emptyEnsemble = put('empty.json', JSON.stringify({ name: 'x', classes: [{ name: 'organ', prompts: [] }] }));
  f.existing = put('existing.json', '{}');
  f.truncatedOnnx = put('truncated.onnx', fakeSamEncoder().slice(0, 100));
  f.encoder = put('encoder.onnx', fakeSamEncoder());
  f.decoder = put('decoder.onnx', fakeSingleMaskDecoder());
  const mask = { width: 32, height: 32, data: new Uint8Array(1024) };
  mask.data.fill(1, 200, 500);
  for (const [folder, files] of [
    ['images', { 'a.png': encodePng(IMAGE), 'b.png': encodePng(testImage(32, 32, [8, 8, 24, 24])) }],
    ['masks', { 'a.png': encodeMaskPng(mask), 'b.png': encodeMaskPng(mask) }],
    ['partial-masks', { 'a.png': encodeMaskPng(mask) }],
    ['small-masks', { 'a.png': encodeMaskPng({ width: 16, height: 16, data: new Uint8Array(256) }), 'b.png': encodeMaskPng(mask) }],
    [join('gt', 'gt-box'), { 'a.png': encodeMaskPng(mask), 'b.png': encodeMaskPng(mask) }],
  ] as const) {
    mkdirSync(join(dir, folder), { recursive: true });
    for (const [name, bytes] of Object.entries(files)) put(join(folder, name), bytes);
  }
  f.imagesDir = join(dir, 'images');
  f.masksDir = join(dir, 'masks');
  f.partialMasksDir = join(dir, 'partial-masks');
  f.smallMasksDir = join(dir, 'small-masks');
  noModels = ['--sam-preset', 'sam', '--sam-encoder', join(dir, 'no-encoder.onnx'), '--sam-decoder', join(dir, 'no-decoder.onnx')];
  fakeModels = ['--sam-preset', 'sam', '--sam-encoder', f.encoder, '--sam-decoder', f.decoder];
  onnxSam = await createSamModel(nodeBackend(), { preset: 'sam', encoder: fakeSamEncoder(), decoder: fakeSingleMaskDecoder() });
  onnxSalip = await createSalip({ backend: nodeBackend(), sam: onnxSam, scorer: brightness });
  fakeSalip = await createSalip({ backend: nodeBackend(), sam: createFakeSam(), scorer: brightness });
  const towers = fakeOpenClipTowers();
  clip = await createClipModel(nodeBackend(), { preset: 'openai', vision: towers.visual, text: towers.textual });
});

afterAll(async () => {
  vi.restoreAllMocks();
  await onnxSalip?.dispose();
  await onnxSam?.dispose();
  await fakeSalip?.dispose();
  await clip?.dispose();
});

describe('bad inputs give a SalipError with a stable code and a message naming the input', () => {
  it('the table has at least 30 rows and distinct descriptions', () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
    expect(new Set(rows.map((r) => r.what)).size).toBe(rows.length);
  });

  it.each(rows)('$what -> $code', async ({ action, code, fragment }) => {
    const outcome = await action();
    expect(outcome.code, outcome.message).toBe(code);
    if (typeof fragment === 'string') expect(outcome.message).toContain(fragment);
    else expect(outcome.message).toMatch(fragment);
  });

  it('a failed CLI run leaves no output file behind', () => {
    expect(readdirSync(dir).filter((name) => name.endsWith('.out') || name.endsWith('.tmp'))).toEqual([]);
  });
});

describe('odd but valid inputs work', () => {
  const cases: Array<[string, Uint8Array, { bitDepth: number; channels: number }]> = [
    ['16-bit gray PNG', encodeFastPng({ width: 32, height: 24, data: Uint16Array.from({ length: 768 }, (_, i) => 1000 + i * 50), channels: 1, depth: 16 }), { bitDepth: 16, channels: 1 }],
    ['RGBA PNG', encodeFastPng({ width: 32, height: 24, data: Uint8Array.from({ length: 3072 }, (_, i) => (i % 4 === 3 ? 128 : (i * 5) % 256)), channels: 4, depth: 8 }), { bitDepth: 8, channels: 4 }],
    [
      'palette PNG',
      encodeFastPng({ width: 32, height: 24, data: Uint8Array.from({ length: 768 }, (_, i) => i % 3), channels: 1, depth: 8, palette: [[0, 0, 0], [200, 100, 50], [255, 255, 255]] }),
      { bitDepth: 8, channels: 3 },
    ],
  ];

  it.each(cases)('%s decodes, segments with a box and runs `salip everything`', async (name, bytes, expected) => {
    const decoded = decodeImage(bytes, { name });
    expect({ bitDepth: decoded.bitDepth, channels: decoded.channels }).toEqual(expected);
    expect([decoded.image.width, decoded.image.height]).toEqual([32, 24]);
    expect(decoded.image.data.length).toBe(32 * 24 * 3);
    // 16-bit samples are windowed min-max: the darkest pixel maps to 0 and the brightest to 255.
    if (expected.bitDepth === 16) expect([Math.min(...decoded.image.data), Math.max(...decoded.image.data)]).toEqual([0, 255]);
    const file = join(dir, `${name.replace(/\W+/g, '-')}.png`);
    writeFileSync(file, bytes);
    const image = await readImageFile(file);
    const result = await onnxSalip.segmentWithBoxes(image, [[4, 4, 20, 16]]);
    expect([result.union.width, result.union.height]).toEqual([32, 24]);
    expect(maskArea(result.union)).toBeGreaterThan(0);
    const records = join(dir, `${name.replace(/\W+/g, '-')}.json`);
    await cliOk('everything', file, '--points-per-side', '2', '--json', records, '--quiet', ...fakeModels);
    expect(readdirSync(dir)).toContain(`${name.replace(/\W+/g, '-')}.json`);
  });

  it('a volume whose middle slice has no candidate keeps the other slices and leaves that one empty', async () => {
    // A SAM that finds nothing on dark slices (mean brightness < 0.3): their pools are empty.
    const inner = createFakeSam();
    const darkBlind: SamModel = {
      ...inner,
      embed: (image, options) => inner.embed(image, options),
      async decode(embedding, prompt, options) {
        const result = await inner.decode(embedding, prompt, options);
        let brightness = 0;
        for (let i = 0; i < 4096; i++) brightness += embedding.data[i];
        // Channel 0 of the fake embedding is the image brightness (0..1) per cell.
        if (brightness / 4096 < 0.3) return { ...result, lowResLogits: result.lowResLogits.map((l) => l.map(() => -10)) };
        return result;
      },
    };
    const salip = await createSalip({ backend: nodeBackend(), sam: darkBlind, scorer: brightness });
    const [nx, ny] = [24, 24];
    const data = new Float32Array(nx * ny * 3);
    data.fill(220, 0, nx * ny).fill(40, nx * ny, 2 * nx * ny).fill(220, 2 * nx * ny);
    data[0] = 0;
    data[1] = 255;
    const result = await segmentVolume(salip, { dims: [nx, ny, 3], data }, TASK, { blankFraction: 0 });
    expect(result.slices.map((s) => [s.skipped, s.reason])).toEqual([
      [false, undefined],
      [true, 'no-candidates'],
      [false, undefined],
    ]);
    const slice = (z: number) => result.mask.subarray(z * nx * ny, (z + 1) * nx * ny).reduce((a, b) => a + b, 0);
    expect([slice(0) > 0, slice(1), slice(2) > 0]).toEqual([true, 0, true]);
    await expect(segmentVolume(salip, { dims: [nx, ny, 3], data }, TASK, { className: 'liver' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining("no class 'liver'") });
    await salip.dispose();
  });

  it('a 1 x 1 image decodes, runs segment-everything and box prompts; the cascade reports an empty pool', async () => {
    const bytes = encodeFastPng({ width: 1, height: 1, data: Uint8Array.of(90), channels: 1, depth: 8 });
    const { image } = decodeImage(bytes);
    expect(image).toEqual({ width: 1, height: 1, data: Uint8Array.of(90, 90, 90) });
    const everything = await onnxSalip.segmentEverything(image, { pointsPerSide: 2, predIouThresh: 0, stabilityScoreThresh: 0 });
    for (const r of everything.records) expect(r.segmentation.size).toEqual([1, 1]);
    const boxes = await onnxSalip.segmentWithBoxes(image, [[0, 0, 0, 0]]);
    expect(boxes.masks).toHaveLength(1);
    expect([boxes.union.width, boxes.union.height]).toEqual([1, 1]);
    // Every candidate of a 1-pixel image has a zero-area box, so retrieval has nothing to score.
    const outcome = await apiError(() => fakeSalip.segment(image, TASK));
    expect(outcome.code).toBe('EMPTY_CANDIDATE_POOL');
    expect(outcome.message).toContain('with a zero-area box');
  });
});
