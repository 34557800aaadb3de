/**
 * npm run bench:batch: many images on this machine, all figures from one run.
 *   1. `salip batch` throughput (images per minute) with 1 worker x 2 threads and with
 *      2 workers x 1 thread (the lungs-cxr cascade, fast mode, 3 exemplars);
 *   2. the queue's overhead per image: `salip queue submit` + 2 `salip queue worker`
 *      processes x 1 thread on a local redis-server, wall time over batch's 2 x 1 (target <= 1.05);
 *   3. peak RSS per worker process (batch: the workers' own maxRSS; queue: VmHWM).
 * Every timed span includes model loading; batch's also its processes' start, the queue's the
 * submit (its workers already wait on the queue, as they do in use).
 *
 *   tsx bench/batch.ts [--images 8] [--out bench/results-batch.json]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { queueStatus } from '../src/queue.js';
import { startRedis } from '../test/helpers/redis.js';
import { dataPath, taskImageNames } from '../test/helpers/data.js';
import { machineInfo, REPO_ROOT } from './harness.js';

const { values: args } = parseArgs({
  options: {
    images: { type: 'string', default: '8' },
    out: { type: 'string', default: join(REPO_ROOT, 'bench', 'results-batch.json') },
  },
});
const log = (message: string) => process.stderr.write(`${message}\n`);
const CLI = ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'bin.ts')];
const EXEMPLARS = ['--exemplar-images', dataPath('lung_xray', 'images'), '--exemplar-masks', dataPath('lung_xray', 'masks'), '--exemplars', '3', '--fast'];

/** Runs the CLI to completion; resolves with its wall time in ms. */
function runCli(argv: string[]): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...argv, '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`salip ${argv[0]} exited with ${code}`))));
  });
}

/** Peak resident memory (VmHWM) of a live process in MB. */
function peakRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return Number(line?.split(/\s+/)[1] ?? NaN) / 1024;
}

async function batchRun(list: string, out: string, workers: number, threads: number) {
  const ms = await runCli(['batch', '--task', 'lungs-cxr', ...EXEMPLARS, '--out', out, '--workers', String(workers), '--threads', String(threads), list]);
  const summary = JSON.parse(readFileSync(join(out, 'salip-summary.json'), 'utf8'));
  if (summary.counts.done !== summary.counts.total) throw new Error(`batch ${workers}x${threads}: ${JSON.stringify(summary.counts)}`);
  return { workers, threads, wallMs: ms, imagesPerMinute: (summary.counts.done * 60_000) / ms, peakRssMbPerWorker: summary.peakRssMbPerWorker as number[] };
}

async function queueRun(list: string, out: string, workers: number, count: number) {
  const redis = await startRedis();
  try {
    // Workers wait on the queue before the submit, as they do in use; they load their models at
    // the first job, inside the timed span, as batch's workers do.
    const children = Array.from({ length: workers }, () => spawn(process.execPath, [...CLI, 'queue', 'worker', '--redis', redis.url, '--threads', '1'], { stdio: ['ignore', 'pipe', 'inherit'] }));
    await Promise.all(children.map((c) => new Promise<void>((r) => c.stdout!.on('data', (d) => String(d).includes('worker on') && r()))));
    const started = performance.now();
    await runCli(['queue', 'submit', '--redis', redis.url, '--task', 'lungs-cxr', ...EXEMPLARS, '--out', out, list]);
    let status = await queueStatus({ redis: redis.url });
    while (status.completed + status.failed < count) {
      await sleep(250);
      status = await queueStatus({ redis: redis.url });
    }
    const wallMs = performance.now() - started;
    const rss = children.map((c) => peakRssMb(c.pid!));
    // SIGTERM lets each worker finish and exit; one that lingers past a minute is killed.
    await Promise.all(
      children.map(
        (c) =>
          new Promise((r) => {
            const timer = setTimeout(() => c.kill('SIGKILL'), 60_000);
            c.once('exit', () => r(clearTimeout(timer)));
            c.kill('SIGTERM');
          }),
      ),
    );
    if (status.failed > 0) throw new Error(`queue: ${JSON.stringify(status.failures)}`);
    return { workers, threads: 1, wallMs, imagesPerMinute: (count * 60_000) / wallMs, peakRssMbPerWorker: rss };
  } finally {
    await redis.stop();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'salip-bench-batch-'));
try {
  const names = taskImageNames('lung_xray').slice(0, Number(args.images));
  const list = join(dir, 'inputs.txt');
  writeFileSync(list, names.map((n) => dataPath('lung_xray', 'images', n)).join('\n') + '\n');
  log(`bench:batch: ${names.length} lung X-rays, ${JSON.stringify(machineInfo())}`);
  const oneByTwo = await batchRun(list, join(dir, 'b12'), 1, 2);
  log(`batch 1x2: ${oneByTwo.imagesPerMinute.toFixed(2)} images/min`);
  const twoByOne = await batchRun(list, join(dir, 'b21'), 2, 1);
  log(`batch 2x1: ${twoByOne.imagesPerMinute.toFixed(2)} images/min`);
  const queue = await queueRun(list, join(dir, 'q21'), 2, names.length);
  log(`queue 2x1: ${queue.imagesPerMinute.toFixed(2)} images/min`);
  const result = {
    images: names.length,
    machine: machineInfo(),
    batch1x2: oneByTwo,
    batch2x1: twoByOne,
    queue2x1: queue,
    speedup2x1Over1x2: twoByOne.imagesPerMinute / oneByTwo.imagesPerMinute,
    queueOverheadPerImage: queue.wallMs / twoByOne.wallMs,
  };
  writeFileSync(args.out!, JSON.stringify(result, null, 1) + '\n');
  const row = (name: string, r: typeof oneByTwo) => `| ${name} | ${r.imagesPerMinute.toFixed(2)} | ${(r.wallMs / 1000).toFixed(1)} | ${r.peakRssMbPerWorker.map((m) => m.toFixed(0)).join(', ')} |`;
  console.log(['| run | images/min | wall s | peak RSS per worker (MB) |', '| --- | --- | --- | --- |', row('batch 1 worker x 2 threads', oneByTwo), row('batch 2 workers x 1 thread', twoByOne), row('queue 2 workers x 1 thread', queue)].join('\n'));
  console.log(`2x1 over 1x2: ${result.speedup2x1Over1x2.toFixed(3)}; queue overhead per image over batch 2x1: ${result.queueOverheadPerImage.toFixed(3)} (target <= 1.05)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
