/**
 * npm run demo: the quick-start job on the embedded MobileSAM weights and a real chest X-ray
 * from ../shared/data (or an image path given as the first argument):
 *   1. segment-everything at 256 x 256, overlay of every candidate;
 *   2. box-prompted SAM with one box per lung (taken from the ground-truth mask when the image
 *      has one beside it), overlay of the masks;
 *   3. the full cascade with the exemplar scorer (3 labelled exemplars from the same folder),
 *      overlay of chosen candidates and final mask.
 * Outputs go to a new folder out/demo-N (nothing is overwritten).
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import {
  PALETTE,
  componentBoxes,
  createSalip,
  decodeRle,
  defaultSamFiles,
  encodePng,
  maskDice,
  nodeBackend,
  readImageFile,
  readMaskFile,
  renderOverlay,
  resizeImage,
  resizeMaskNearest,
  writeFileAtomic,
  TASK_PRESETS,
  type SalipTask,
} from '../src/node.js';

const SIZE = 256;

function newOutputDir(root: string): string {
  mkdirSync(root, { recursive: true });
  for (let n = 1; ; n++) {
    const dir = join(root, `demo-${n}`);
    if (!existsSync(dir)) {
      mkdirSync(dir);
      return dir;
    }
  }
}

async function main() {
  const dataDir = process.env.SALIP_DATA_DIR ?? resolve('..', 'shared', 'data');
  const lungImages = join(dataDir, 'lung_xray', 'images');
  const imagePath = process.argv[2] ?? join(lungImages, readdirSync(lungImages).sort()[0]);
  const maskPath = join(dirname(dirname(imagePath)), 'masks', basename(imagePath));
  const out = newOutputDir(resolve('out'));
  console.log(`image: ${imagePath}\noutput: ${out}`);

  const salip = await createSalip({ backend: nodeBackend(), sam: defaultSamFiles() });
  try {
    const original = await readImageFile(imagePath);
    const image = resizeImage(original, SIZE, SIZE, 'bilinear');
    const gt = existsSync(maskPath) ? resizeMaskNearest(await readMaskFile(maskPath), SIZE, SIZE) : undefined;

    // 1. Segment everything.
    let t = performance.now();
    const everything = await salip.segmentEverything(image, { pointsPerSide: 16, predIouThresh: 0.5, stabilityScoreThresh: 0.5 });
    console.log(`segment-everything: ${everything.records.length} candidates in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const candidates = renderOverlay(
      image,
      everything.records.map((r, i) => ({ mask: decodeRle(r.segmentation), color: PALETTE[i % PALETTE.length], outline: 1, fillAlpha: 0.15 })),
    );
    await writeFileAtomic(join(out, 'everything.png'), encodePng(candidates));

    // 2. Box prompts: one box per connected component of the ground truth (or the image centre).
    const boxes = gt ? componentBoxes(gt) : [[SIZE * 0.25, SIZE * 0.25, SIZE * 0.75, SIZE * 0.75] as [number, number, number, number]];
    t = performance.now();
    const boxed = await salip.segmentWithBoxes(image, boxes, { embedding: everything.embedding });
    const diceText = gt ? `, Dice vs ground truth ${maskDice(boxed.union, gt).toFixed(3)}` : '';
    console.log(`box prompts: ${boxes.length} boxes in ${((performance.now() - t) / 1000).toFixed(2)} s${diceText}`);
    await writeFileAtomic(
      join(out, 'boxes.png'),
      encodePng(renderOverlay(image, boxed.masks.map((m, i) => ({ mask: m.mask, color: PALETTE[i], fillAlpha: 0.35, outline: 1, box: m.prompt.box })))),
    );

    // 3. The cascade with exemplars from the same folder (other images than this one).
    const names = readdirSync(dirname(imagePath)).filter((f) => f !== basename(imagePath)).sort().slice(0, 3);
    const haveMasks = names.every((n) => existsSync(join(dirname(dirname(imagePath)), 'masks', n)));
    if (haveMasks && gt) {
      const exemplars = await Promise.all(
        names.map(async (n) => ({
          image: resizeImage(await readImageFile(join(dirname(imagePath), n)), SIZE, SIZE, 'bilinear'),
          mask: resizeMaskNearest(await readMaskFile(join(dirname(dirname(imagePath)), 'masks', n)), SIZE, SIZE),
        })),
      );
      const preset = TASK_PRESETS['lungs-cxr'];
      const task: SalipTask = { ...preset, workingSize: null, classes: [{ name: 'lungs', topK: 2, exemplars }] };
      t = performance.now();
      const result = await salip.segment(image, task);
      const lungs = result.classes.lungs;
      console.log(
        `cascade (exemplar scorer): ${result.pool.length} candidates, chose ${lungs.chosen.length}, Dice vs ground truth ${maskDice(lungs.mask, gt).toFixed(3)} in ${((performance.now() - t) / 1000).toFixed(1)} s`,
      );
      await writeFileAtomic(
        join(out, 'cascade.png'),
        encodePng(
          renderOverlay(image, [
            ...lungs.chosen.map((c) => ({ mask: decodeRle(c.record.segmentation), color: [255, 200, 0] as [number, number, number], outline: 1 })),
            { mask: lungs.mask, color: [0, 200, 255], fillAlpha: 0.4, outline: 2 },
          ]),
        ),
      );
    }
    console.log(`wrote ${readdirSync(out).map((f) => join(out, f)).join(', ')}`);
  } finally {
    await salip.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
