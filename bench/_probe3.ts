import { Worker } from 'node:worker_threads';
import { defaultSamFiles } from '../src/backends/default-models.js';
import { nodeBackend } from '../src/backends/node.js';
import { createSamModel } from '../src/pipeline/sam.js';
import { prepareEvalItem } from '../src/pipeline/evaluate.js';
import { devNames, loadDevItem, now, OrtMeter } from './harness.js';
const backend = nodeBackend();
const meter = new OrtMeter(backend);
const sam = await createSamModel(backend, defaultSamFiles());
const item = prepareEvalItem(loadDevItem('fetal_head_us', devNames('fetal_head_us')[3]), 256);
const emb = await sam.embed(item.image);
async function loop(n: number) {
  meter.start(); const t = now();
  for (let i = 0; i < n; i++) await sam.decode(emb, { points: [{ x: 10 + (i % 200), y: 100, label: 1 }] }, { multimask: true });
  return [(now() - t) / n, meter.read().ms / n];
}
console.log('warm', await loop(40));
console.log('alone', await loop(100));
const w = new Worker(`const a=new Float32Array(1<<20); let s=0; for(;;){ for(let i=0;i<a.length;i++){ a[i]=a[i]*0.5+i; s+=a[i]>3?1:0;} }`, { eval: true });
await new Promise((r) => setTimeout(r, 200));
console.log('busy worker', await loop(100));
await w.terminate();
console.log('alone again', await loop(100));
