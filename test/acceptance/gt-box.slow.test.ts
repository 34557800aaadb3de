/**
 * Foundation acceptance: box-prompted MobileSAM through the public API, images resized to
 * 256 x 256 as in the paper, one box per connected component of the ground truth, mean Dice over
 * every image of the development sets: lungs >= 0.85, fetal head >= 0.90.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  componentBoxes,
  createSalip,
  decodeImage,
  decodeMask,
  defaultSamFiles,
  maskDice,
  nodeBackend,
  resizeImage,
  resizeMaskNearest,
  type Salip,
} from '../../src/node.js';
import { readPair, taskImageNames, type DataTask } from '../helpers/data.js';

let salip: Salip;
beforeAll(async () => {
  salip = await createSalip({ backend: nodeBackend(), sam: defaultSamFiles() });
});
afterAll(async () => {
  await salip.dispose();
});

async function meanGtBoxDice(task: DataTask): Promise<number> {
  const dices: number[] = [];
  for (const name of taskImageNames(task)) {
    const pair = readPair(task, name);
    const image = resizeImage(decodeImage(pair.image).image, 256, 256, 'bilinear');
    const gt = resizeMaskNearest(decodeMask(pair.mask), 256, 256);
    const result = await salip.segmentWithBoxes(image, componentBoxes(gt));
    dices.push(maskDice(result.union, gt));
  }
  const mean = dices.reduce((a, b) => a + b, 0) / dices.length;
  console.log(`${task}: GT-box mean Dice ${mean.toFixed(4)} over ${dices.length} images (min ${Math.min(...dices).toFixed(3)})`);
  return mean;
}

describe('GT-box prompted MobileSAM on the development sets at 256 x 256', () => {
  it('lungs: mean Dice >= 0.85', async () => {
    expect(await meanGtBoxDice('lung_xray')).toBeGreaterThanOrEqual(0.85);
  });
  it('fetal head: mean Dice >= 0.90', async () => {
    expect(await meanGtBoxDice('fetal_head_us')).toBeGreaterThanOrEqual(0.9);
  });
});
