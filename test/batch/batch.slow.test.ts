/**
 * salip batch and the queue end to end on the real MobileSAM and dev chest X-rays: 2 workers x 1
 * thread give the same mask bytes as 1 worker x 2 threads, the masks match the ground truth,
 * and a queue worker running the default cascade writes the same masks.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runCli } from '../../src/cli/run.js';
import { createSalipWorker, enqueue, queueStatus } from '../../src/queue.js';
import { decodeMask, maskDice } from '../../src/index.js';
import { dataPath, taskImageNames } from '../helpers/data.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

let dir: string;
let redis: RedisServer;
const names = taskImageNames('lung_xray').slice(0, 3);
const exemplarFlags = ['--exemplar-images', dataPath('lung_xray', 'images'), '--exemplar-masks', dataPath('lung_xray', 'masks'), '--fast'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'salip-batch-slow-'));
  // The data is read where it lies: the list names it, nothing is copied.
  writeFileSync(join(dir, 'inputs.txt'), names.map((n) => dataPath('lung_xray', 'images', n)).join('\n') + '\n');
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return { code: await runCli(main, argv, { stderr: { write: (s: string) => (err += s) }, exit: () => undefined }), err };
  } finally {
    spy.mockRestore();
  }
}

describe('salip batch and salip queue on the real cascade', () => {
  it('2 workers x 1 thread write the same masks as 1 worker x 2 threads, overlapping the ground truth', async () => {
    const parallel = await cli('batch', '--task', 'lungs-cxr', ...exemplarFlags, '--out', join(dir, 'parallel'), '--workers', '2', '--threads', '1', '--quiet', join(dir, 'inputs.txt'));
    expect(parallel).toEqual({ code: 0, err: '' });
    const serial = await cli('batch', '--task', 'lungs-cxr', ...exemplarFlags, '--out', join(dir, 'serial'), '--workers', '1', '--threads', '2', '--quiet', join(dir, 'inputs.txt'));
    expect(serial).toEqual({ code: 0, err: '' });
    for (const name of names) {
      const mask = readFileSync(join(dir, 'parallel', name));
      expect(Buffer.compare(mask, readFileSync(join(dir, 'serial', name))), name).toBe(0);
      const dice = maskDice(decodeMask(new Uint8Array(mask)), decodeMask(new Uint8Array(readFileSync(dataPath('lung_xray', 'masks', name)))));
      // Fast mode on three images: a real lung mask (one image may get one lung of two, Dice ~0.65).
      expect(dice, name).toBeGreaterThan(0.5);
    }
    const summary = JSON.parse(readFileSync(join(dir, 'parallel', 'salip-summary.json'), 'utf8'));
    expect(summary.counts).toEqual({ total: 3, done: 3, skipped: 0, failed: 0 });
    expect(summary.peakRssMbPerWorker).toHaveLength(2);
  });

  it('a queue worker with the default cascade writes the masks batch wrote', async () => {
    const submit = await cli('queue', 'submit', '--redis', redis.url, '--task', 'lungs-cxr', ...exemplarFlags, '--out', join(dir, 'queued'), '--quiet', join(dir, 'inputs.txt'));
    expect(submit).toEqual({ code: 0, err: '' });
    const worker = await createSalipWorker({ redis: redis.url, threads: 2 });
    try {
      for (let i = 0; i < 600; i++) {
        const s = await queueStatus({ redis: redis.url });
        if (s.completed + s.failed === names.length) break;
        await sleep(1000);
      }
    } finally {
      await worker.close();
    }
    expect(await queueStatus({ redis: redis.url })).toMatchObject({ completed: 3, failed: 0 });
    for (const name of names) expect(Buffer.compare(readFileSync(join(dir, 'queued', name)), readFileSync(join(dir, 'serial', name))), name).toBe(0);
  });
});
