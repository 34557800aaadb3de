/**
 * The cascade with a CLIP export and text prompts (what the paper does).
 * Usage:
 *   npx tsx examples/clip-text.ts --preset hf --vision clip/vision_model.onnx \
 *     --text clip/text_model.onnx [--tokenizer clip/tokenizer.json] [--mode crops] [--top-k 1] \
 *     IMAGE "a chest x-ray of the lungs" ["another sentence" ...]
 * Prints the chosen candidates and the score table's best rows; writes nothing.
 */
import { parseArgs } from 'node:util';
import {
  createSalip,
  defaultSamFiles,
  nodeBackend,
  readImageFile,
  type ClipPresetName,
  type VisualPromptMode,
} from '../src/node.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    preset: { type: 'string', default: 'hf' },
    vision: { type: 'string' },
    text: { type: 'string' },
    tokenizer: { type: 'string' },
    mode: { type: 'string', default: 'crops' },
    'top-k': { type: 'string', default: '1' },
    'points-per-side': { type: 'string', default: '16' },
  },
});
const [imagePath, ...prompts] = positionals;
if (!imagePath || prompts.length === 0 || !values.vision || !values.text) {
  console.error('usage: clip-text.ts --preset P --vision V.onnx --text T.onnx [--tokenizer tokenizer.json] IMAGE "prompt" ...');
  process.exit(2);
}

const salip = await createSalip({
  backend: nodeBackend(),
  sam: defaultSamFiles(),
  clip: { preset: values.preset as ClipPresetName, vision: values.vision, text: values.text, tokenizer: values.tokenizer },
});
try {
  console.log('CLIP:', JSON.stringify(salip.clip!.info));
  const image = await readImageFile(imagePath);
  const result = await salip.segment(image, {
    name: 'text-prompted',
    classes: [{ name: 'target', prompts, topK: Number(values['top-k']) }],
    visualPrompt: values.mode as VisualPromptMode,
    workingSize: 256,
    maxAreaFraction: 0.76,
    everything: { pointsPerSide: Number(values['points-per-side']), predIouThresh: 0.5, stabilityScoreThresh: 0.3 },
  });
  const target = result.classes.target;
  const area = target.mask.data.reduce((a, b) => a + b, 0);
  console.log(`${result.retrieval.pool.length} candidates scored; chose ${target.chosen.map((c) => `#${c.index} (score ${c.score.toFixed(2)}, box ${c.record.bbox.join(',')})`).join(', ')}`);
  console.log(`final mask: ${area} pixels of ${image.width * image.height}`);
} finally {
  await salip.dispose();
}
