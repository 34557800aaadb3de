/**
 * Where the SAM decoder's time goes, per operator, from ONNX Runtime's own profiler
 * (enableProfiling), for the decoder as exported and channels-last, fp32 and int8.
 *
 *   tsx bench/decoder-profile.ts [--part whole|split] [--variants fp32,int8,fp32ChannelsLast,int8ChannelsLast] [--calls 15] [--top 12]
 *
 * One point prompt on a real embedding (the first lung image at 256), the multi-mask edit applied
 * and `masks` pruned as the adapter loads it; `split` profiles the split decoder's prompt part.
 * Times are kernel times per run; the shares within one variant are what to compare (the machine's
 * load moves the absolute times).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { defaultSamFiles } from '../src/backends/default-models.js';
import { nodeBackend } from '../src/backends/node.js';
import { carryChannelsLast } from '../src/models/graph/channels-last.js';
import { quantizeModel } from '../src/models/graph/quantize.js';
import { prepareSamDecoder } from '../src/models/sam/graph-edit.js';
import { splitDecoder } from '../src/models/sam/graph-split.js';
import { createSamModel } from '../src/models/sam/sam.js';
import { prepareEvalItem } from '../src/pipeline/evaluate.js';
import { devNames, loadDevItem } from './harness.js';

const { values: args } = parseArgs({
  options: {
    part: { type: 'string', default: 'whole' },
    variants: { type: 'string', default: 'fp32,int8,fp32ChannelsLast,int8ChannelsLast' },
    calls: { type: 'string', default: '15' },
    top: { type: 'string', default: '12' },
  },
});
const files = defaultSamFiles();
const prepared = prepareSamDecoder(new Uint8Array(readFileSync(files.decoder)), { exposeMultimask: true, dropOutputs: ['masks'] }).bytes;
const VARIANTS: Record<string, () => Uint8Array> = {
  fp32: () => prepared,
  int8: () => quantizeModel(prepared).bytes,
  fp32ChannelsLast: () => carryChannelsLast(prepared).bytes,
  int8ChannelsLast: () => quantizeModel(carryChannelsLast(prepared).bytes).bytes,
};

const sam = await createSamModel(nodeBackend({ modelCacheDir: false }), files);
const embedding = await sam.embed(prepareEvalItem(loadDevItem('lung_xray', devNames('lung_xray')[0]), 256).image);
await sam.dispose();
const tensor = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);
const feeds: Record<string, ort.Tensor> = {
  image_embeddings: tensor(embedding.data, [1, 256, 64, 64]),
  point_coords: tensor(Float32Array.from([500, 420, 0, 0]), [1, 2, 2]),
  point_labels: tensor(Float32Array.from([1, -1]), [1, 2]),
  mask_input: tensor(new Float32Array(65536), [1, 1, 256, 256]),
  has_mask_input: tensor(new Float32Array(1), [1]),
  orig_im_size: tensor(Float32Array.from([256, 256]), [2]),
};
const outputs = ['salip_all_low_res_masks', 'salip_all_iou_predictions'];
const pick = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, feeds[n]]));
const dir = mkdtempSync(join(tmpdir(), 'salip-profile-'));

/** The session to profile and its feeds: the whole graph, or the prompt part after one image-part run. */
async function profiledSession(bytes: Uint8Array, prefix: string): Promise<{ session: ort.InferenceSession; input: Record<string, ort.Tensor> }> {
  const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: prefix };
  if (args.part !== 'split') return { session: await ort.InferenceSession.create(bytes, options), input: feeds };
  const split = splitDecoder(bytes, outputs);
  const image = await ort.InferenceSession.create(split.imageBytes, { graphOptimizationLevel: 'all' });
  const boundary = await image.run(pick(split.imageInputs), split.boundary);
  await image.release();
  const types = new Map(split.boundary.map((n) => [n, boundary[n].type === 'float32' ? 1 : 7]));
  return { session: await ort.InferenceSession.create(split.promptBytes(types), options), input: { ...pick(split.promptInputs), ...boundary } };
}

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

for (const name of args.variants!.split(',')) {
  const make = VARIANTS[name];
  if (!make) throw new Error(`unknown variant ${name} (${Object.keys(VARIANTS).join(', ')})`);
  const prefix = join(dir, name);
  const { session, input } = await profiledSession(make(), prefix);
  const calls = Number(args.calls);
  for (let i = 0; i <= calls; i++) await session.run(input, outputs);
  session.endProfiling();
  await session.release();
  const file = readdirSync(dir).find((f) => f.startsWith(`${name}_`))!;
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
  // The first run (allocations, first-touch) is a warm-up: left out.
  const modelRuns = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const warmedUp = modelRuns[0].ts + modelRuns[0].dur;
  const runs = modelRuns.length - 1;
  const byOp = new Map<string, number>();
  const byNode = new Map<string, number>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < warmedUp) continue;
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    const node = e.name.slice(0, -'_kernel_time'.length);
    byNode.set(node, (byNode.get(node) ?? 0) + e.dur);
    total += e.dur;
  }
  const ms = (us: number) => (us / runs / 1000).toFixed(2);
  const top = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top));
  console.log(`\n${name} (${args.part}): ${ms(total)} ms of kernels per run, ${runs} runs`);
  console.log(`  by op:   ${top(byOp).map(([op, us]) => `${op} ${ms(us)} (${((100 * us) / total).toFixed(0)} %)`).join(', ')}`);
  console.log(`  by node: ${top(byNode).map(([node, us]) => `${node} ${ms(us)}`).join('\n           ')}`);
}
rmSync(dir, { recursive: true, force: true });
