/**
 * salip batch through runBatch with real worker processes and the cheap processor (the
 * processor-module seam): bad inputs fail alone with their codes, parallel equals serial, reruns
 * skip what is done and redo what is stale, and a run SIGKILLed mid-way resumes without redoing
 * finished inputs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDuration, runBatch, REPORT_FILE, SUMMARY_FILE, type BatchOptions } from '../../src/batch/run-batch.js';
import { readAllRecords } from '../../src/batch/manifest.js';
import type { ProgressEvent } from '../../src/pipeline/stages/options.js';
import { cheapMask } from './fixtures/cheap-processor.js';
import { writeTestImages } from '../helpers/test-images.js';

const PROCESSOR = join(import.meta.dirname, 'fixtures', 'cheap-processor.ts');
const RUNNER = join(import.meta.dirname, 'fixtures', 'run-batch.ts');
const TASK = { task: 'lungs-cxr', exemplars: [], fast: false };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'salip-batch-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function options(inputs: string[], outDir: string, extra: Partial<BatchOptions> = {}): BatchOptions {
  return { inputs, outDir, taskSource: TASK, models: {}, processorModule: PROCESSOR, ...extra };
}

describe('runBatch (salip batch)', () => {
  it('segments a tree into the same layout, fails bad inputs alone with their codes, and 2 workers equal 1', async () => {
    const root = join(dir, 'tree');
    const images = [...writeTestImages(join(root, 'a'), 4), ...writeTestImages(join(root, 'b', 'c'), 3)];
    writeFileSync(join(root, 'a', 'broken.png'), 'not a png');
    writeFileSync(join(root, 'README.md'), 'not an input: folders take images and volumes only');
    const list = join(dir, 'list.txt');
    writeFileSync(list, `# bad ones\n${join(dir, 'absent.png')}\n`);
    const outDir = join(dir, 'out-parallel');
    mkdirSync(join(outDir, 'a'), { recursive: true });
    writeFileSync(join(outDir, 'a', 'img-03.png'), 'a file of the user that no batch wrote');
    const events: ProgressEvent[] = [];

    const parallel = await runBatch(options([root, list], outDir, { workers: 2, onProgress: (e) => events.push(e) }));
    expect(parallel.counts).toEqual({ total: 9, done: 6, skipped: 0, failed: 3 });
    const failed = Object.fromEntries(parallel.inputs.filter((i) => i.status === 'failed').map((i) => [i.input.split('/').pop(), i.code]));
    expect(failed).toEqual({ 'broken.png': 'UNSUPPORTED_FORMAT', 'absent.png': 'FILE_NOT_FOUND', 'img-03.png': 'OUTPUT_EXISTS' });
    expect(readFileSync(join(outDir, 'a', 'img-03.png'), 'utf8')).toBe('a file of the user that no batch wrote');
    expect(parallel.peakRssMbPerWorker).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ stage: 'batch', done: 9, total: 9 });
    expect(events.at(-1)!.message).toMatch(/\/min, ETA /);

    const serialDir = join(dir, 'out-serial');
    const serial = await runBatch(options([root, list], serialDir, { workers: 1 }));
    expect(serial.counts).toEqual({ total: 9, done: 7, skipped: 0, failed: 2 });
    for (const image of images) {
      const rel = image.slice(root.length + 1);
      const bytes = readFileSync(join(serialDir, rel));
      expect(Buffer.compare(bytes, (await cheapMask(image)).bytes), rel).toBe(0);
      if (rel !== join('a', 'img-03.png')) expect(Buffer.compare(bytes, readFileSync(join(outDir, rel))), rel).toBe(0);
    }
    const summary = JSON.parse(readFileSync(join(serialDir, SUMMARY_FILE), 'utf8'));
    expect(summary.counts).toEqual(serial.counts);
    expect(readFileSync(join(serialDir, REPORT_FILE), 'utf8')).toContain('FILE_NOT_FOUND');
  });

  it('a rerun skips what is done, redoes a changed input, and redoes everything for a changed task', async () => {
    const inputs = writeTestImages(join(dir, 'rerun'), 5);
    const outDir = join(dir, 'out-rerun');
    expect((await runBatch(options([join(dir, 'rerun')], outDir))).counts).toMatchObject({ done: 5, skipped: 0 });
    expect((await runBatch(options([join(dir, 'rerun')], outDir))).counts).toMatchObject({ done: 0, skipped: 5 });
    writeFileSync(inputs[2], readFileSync(writeTestImages(join(dir, 'other'), 8)[7]));
    const changed = await runBatch(options([join(dir, 'rerun')], outDir));
    expect(changed.counts).toMatchObject({ done: 1, skipped: 4 });
    expect(changed.inputs.find((i) => i.status === 'done')!.input).toBe(inputs[2]);
    expect(Buffer.compare(readFileSync(join(outDir, 'img-02.png')), (await cheapMask(inputs[2])).bytes)).toBe(0);
    const fast = await runBatch({ ...options([join(dir, 'rerun')], outDir), taskSource: { ...TASK, fast: true } });
    expect(fast.counts).toMatchObject({ done: 5, skipped: 0 });
  });

  it('killed mid-run with SIGKILL, a rerun completes without redoing finished inputs', async () => {
    const folder = join(dir, 'kill-in');
    writeTestImages(folder, 16);
    const outDir = join(dir, 'kill-out');
    const log = join(dir, 'processed.log');
    const env = { ...process.env, SALIP_TEST_INPUTS: folder, SALIP_TEST_OUT: outDir, SALIP_TEST_WORKERS: '2', SALIP_TEST_DELAY_MS: '150', SALIP_TEST_PROCESS_LOG: log };
    const run = spawn(process.execPath, ['--import', 'tsx', RUNNER], { env, stdio: 'ignore' });
    const done = async () => (await readAllRecords(outDir)).filter((r) => r.status === 'done').length;
    for (let i = 0; i < 600 && (await done()) < 4; i++) await sleep(50);
    run.kill('SIGKILL');
    await new Promise((r) => run.once('exit', r));
    const finished = (await readAllRecords(outDir)).filter((r) => r.status === 'done').map((r) => r.input);
    expect(finished.length).toBeGreaterThanOrEqual(4);
    expect(finished.length).toBeLessThan(16);
    // Let the orphaned workers notice their parent is gone and stop.
    await sleep(500);
    writeFileSync(log, '');
    // Temp files a killed run left long ago (as a kill between write and rename leaves them).
    const longAgo = new Date(Date.now() - 2 * 3_600_000);
    const stale = [join(outDir, '.img-00.png.99999.0badf00d.tmp'), join(outDir, '.salip-manifest', '.0123.json.99999.0badf00d.tmp')];
    for (const path of stale) {
      writeFileSync(path, 'cut off');
      utimesSync(path, longAgo, longAgo);
    }

    process.env.SALIP_TEST_PROCESS_LOG = log;
    try {
      const rerun = await runBatch(options([folder], outDir, { workers: 2 }));
      expect(rerun.counts).toEqual({ total: 16, done: 16 - finished.length, skipped: finished.length, failed: 0 });
    } finally {
      delete process.env.SALIP_TEST_PROCESS_LOG;
    }
    const redone = readFileSync(log, 'utf8').trim().split('\n');
    for (const input of finished) expect(redone).not.toContain(input);
    for (const path of stale) expect(existsSync(path), path).toBe(false);
    // A temp file this kill cut off is younger than an hour and stays until a later run.
    expect(readdirSync(outDir).filter((f) => f.endsWith('.tmp')).every((f) => /^\.img-\d+\.png\.\d+\.[0-9a-f]{8}\.tmp$/.test(f))).toBe(true);
  });

  it('formats the ETA', () => {
    expect([formatDuration(42), formatDuration(75), formatDuration(3700)]).toEqual(['42s', '1m15s', '1h01m']);
  });
});
