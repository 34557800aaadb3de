/**
 * The queue on a real redis-server with real worker processes (cheap processor through the
 * documented seam): a worker SIGKILLed mid-run loses nothing and no mask is written twice;
 * resubmitting adds no job; bad inputs fail at once with their codes; SIGTERM finishes the job
 * under way and exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueue, queueStatus, type QueueStatus } from '../../src/queue.js';
import { decodeMask } from '../../src/io/image-codecs.js';
import { writeTestImages } from '../helpers/test-images.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { cheapMask } from './fixtures/cheap-processor.js';

const WORKER = join(import.meta.dirname, 'fixtures', 'queue-worker.ts');
const TASK = { task: 'lungs-cxr', exemplars: [], fast: false };

let redis: RedisServer;
let dir: string;
const children: ChildProcess[] = [];

function startWorker(queue: string, writeLog: string, delayMs: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: { ...process.env, REDIS_URL: redis.url, SALIP_TEST_QUEUE: queue, SALIP_TEST_WRITE_LOG: writeLog, SALIP_TEST_DELAY_MS: String(delayMs) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      if (String(d).includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
}

async function waitFor(queue: string, done: (s: QueueStatus) => boolean, timeoutMs = 60_000): Promise<QueueStatus> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const status = await queueStatus({ redis: redis.url, queueName: queue });
    if (done(status)) return status;
    if (Date.now() > end) throw new Error(`queue ${queue} did not settle: ${JSON.stringify(status)}`);
    await sleep(200);
  }
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'salip-queue-'));
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('salip queue on BullMQ + redis-server', () => {
  it('2 workers over 40 inputs, one SIGKILLed mid-run: 40 valid masks, none written twice, counts agree; resubmitting adds nothing', async () => {
    const inputs = writeTestImages(join(dir, 'in'), 40);
    const out = join(dir, 'out');
    const writeLog = join(dir, 'writes.log');
    const first = await enqueue({ redis: redis.url, queueName: 'kill', inputs: [join(dir, 'in')], outDir: out, taskSource: TASK, models: {}, backoffMs: 100 });
    expect(first).toMatchObject({ total: 40, added: 40, existing: 0 });

    const [victim, survivor] = await Promise.all([startWorker('kill', writeLog, 150), startWorker('kill', writeLog, 150)]);
    await waitFor('kill', (s) => s.completed >= 6);
    victim.kill('SIGKILL');
    expect((await exitOf(victim)).signal).toBe('SIGKILL');

    const status = await waitFor('kill', (s) => s.completed + s.failed === 40 && s.active === 0);
    expect(status).toMatchObject({ waiting: 0, active: 0, completed: 40, failed: 0 });

    const written = readFileSync(writeLog, 'utf8').trim().split('\n');
    expect(new Set(written).size).toBe(written.length);
    expect(written).toHaveLength(40);
    for (const input of inputs) {
      const output = join(out, input.split('/').pop()!);
      const bytes = new Uint8Array(readFileSync(output));
      expect(decodeMask(bytes).width).toBe(24);
      expect(Buffer.compare(bytes, (await cheapMask(input)).bytes)).toBe(0);
    }
    // One record per input. A temp file the SIGKILL cut off between write and rename may sit
    // beside them; the next enqueue or batch run sweeps it once it is an hour old.
    const records = readdirSync(join(out, '.salip-manifest'));
    expect(records.filter((n) => n.endsWith('.json'))).toHaveLength(40);
    expect(records.filter((n) => !n.endsWith('.json')).every((n) => /^\..+\.tmp$/.test(n))).toBe(true);

    const again = await enqueue({ redis: redis.url, queueName: 'kill', inputs: [join(dir, 'in')], outDir: out, taskSource: TASK, models: {} });
    expect(again).toMatchObject({ total: 40, added: 0, existing: 40 });
    expect(await queueStatus({ redis: redis.url, queueName: 'kill' })).toMatchObject({ waiting: 0, completed: 40 });

    survivor.kill('SIGTERM');
    expect(await exitOf(survivor)).toEqual({ code: 0, signal: null });
  });

  it('bad inputs land in failed with their codes after one attempt', async () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    // A PNG cut short: its signature is right, its data is not.
    const [whole] = writeTestImages(join(dir, 'whole'), 1);
    writeFileSync(join(bad, 'corrupt.png'), readFileSync(whole).subarray(0, 60));
    writeFileSync(join(bad, 'notes.dat'), 'neither an image nor a volume');
    writeFileSync(join(bad, 'list.txt'), 'missing.png\n');
    const good = writeTestImages(join(dir, 'good'), 1);
    const result = await enqueue({
      redis: redis.url,
      queueName: 'bad',
      inputs: [join(bad, 'corrupt.png'), join(bad, 'notes.dat'), join(bad, 'list.txt'), ...good],
      outDir: join(dir, 'bad-out'),
      taskSource: TASK,
      models: {},
      backoffMs: 100,
    });
    expect(result.added).toBe(4);
    const worker = await startWorker('bad', join(dir, 'bad-writes.log'), 0);
    const status = await waitFor('bad', (s) => s.completed + s.failed === 4);
    expect(status).toMatchObject({ completed: 1, failed: 3 });
    const codes = Object.fromEntries(status.failures.map((f) => [f.input.split('/').pop(), [f.code, f.attempts]]));
    expect(codes).toEqual({ 'corrupt.png': ['DECODE_FAILED', 1], 'notes.dat': ['UNSUPPORTED_FORMAT', 1], 'missing.png': ['FILE_NOT_FOUND', 1] });
    expect(existsSync(join(dir, 'bad-out', 'img-00.png'))).toBe(true);
    worker.kill('SIGTERM');
    expect((await exitOf(worker)).code).toBe(0);
  });

  it('SIGTERM lets the job under way finish before the worker exits', async () => {
    const inputs = writeTestImages(join(dir, 'term'), 3);
    await enqueue({ redis: redis.url, queueName: 'term', inputs, outDir: join(dir, 'term-out'), taskSource: TASK, models: {} });
    const worker = await startWorker('term', join(dir, 'term-writes.log'), 1500);
    await waitFor('term', (s) => s.active === 1, 20_000);
    worker.kill('SIGTERM');
    expect((await exitOf(worker)).code).toBe(0);
    const status = await queueStatus({ redis: redis.url, queueName: 'term' });
    expect(status).toMatchObject({ active: 0, completed: 1, failed: 0, waiting: 2 });
  });
});
