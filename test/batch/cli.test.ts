/**
 * The batch and queue commands as a newcomer meets them: a task with neither exemplars nor CLIP
 * fails before any model loads with a message naming the flags; exemplars drawn from a folder
 * never include the inputs; a missing bullmq says how to install it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runCli } from '../../src/cli/run.js';
import { drawExemplarFiles } from '../../src/cli/commands/shared.js';
import { loadQueueModule } from '../../src/cli/commands/queue.js';
import { writeTestImages } from '../helpers/test-images.js';
import { loadTask } from '../../src/batch/task-source.js';
import { TASK_PRESETS } from '../../src/pipeline/tasks.js';

let dir: string;
let images: string[];
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'salip-batch-cli-'));
  images = writeTestImages(join(dir, 'labelled'), 4);
  writeTestImages(join(dir, 'masks'), 4);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; err: string; out: string }> {
  let err = '';
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out.push(String(s));
    return true;
  });
  try {
    const code = await runCli(main, argv, { stderr: { write: (s: string) => (err += s) }, exit: () => undefined });
    return { code, err, out: out.join('') };
  } finally {
    spy.mockRestore();
  }
}

describe('a task JSON that extends a preset', () => {
  it('loads its exemplar paths into the preset\'s class and keeps the preset\'s settings under its own', async () => {
    const file = join(dir, 'fetal-rings.task.json');
    const task = { extends: 'fetal-head-us', classes: [{ name: 'fetal-head', exemplars: [{ image: 'labelled/img-00.png', mask: 'masks/img-00.png' }] }], proposals: { rings: true } };
    writeFileSync(file, JSON.stringify(task));
    const loaded = await loadTask(file);
    expect(loaded.classes).toHaveLength(1);
    expect(loaded.classes[0].prompts).toEqual(TASK_PRESETS['fetal-head-us'].classes[0].prompts);
    expect(loaded.classes[0].exemplars?.[0].image.width).toBe(24);
    expect(loaded.proposals && loaded.proposals.rings).toBe(true);
    expect(loaded.refine).toMatchObject(TASK_PRESETS['fetal-head-us'].refine!);
    expect(loaded.exemplarScoring).toMatchObject(TASK_PRESETS['fetal-head-us'].exemplarScoring!);
    // The example that runs the fetal preset with the exemplar-guided grid.
    const example = await loadTask(join(__dirname, '..', '..', 'examples', 'tasks', 'fetal-head-fast.task.json'));
    expect(example).toMatchObject({ name: 'fetal-head-us-fast', everything: { ...TASK_PRESETS['fetal-head-us'].everything, mode: 'fast' }, proposals: TASK_PRESETS['fetal-head-us'].proposals, refine: TASK_PRESETS['fetal-head-us'].refine });
    writeFileSync(file, JSON.stringify({ ...task, extends: 'fetal-head' }));
    await expect(loadTask(file)).rejects.toMatchObject({ code: 'INVALID_TASK', message: expect.stringContaining('task.extends') });
  });
});

describe('no exemplars and no CLIP', () => {
  const namesTheFlags = (err: string) => {
    expect(err).toMatch(/^salip: INVALID_TASK: task 'lungs-cxr': class 'lungs'/);
    expect(err).toContain('--exemplar-images <dir> --exemplar-masks <dir>');
    expect(err).toContain('--clip-preset');
  };

  it('segment, batch and queue submit fail at once, naming the flags that fix it', async () => {
    const segment = await cli('segment', images[0], '--task', 'lungs-cxr');
    expect(segment.code).toBe(2);
    namesTheFlags(segment.err);
    const batch = await cli('batch', '--task', 'lungs-cxr', '--out', join(dir, 'out'), join(dir, 'labelled'));
    expect(batch.code).toBe(2);
    namesTheFlags(batch.err);
    const submit = await cli('queue', 'submit', '--redis', 'redis://127.0.0.1:1', '--task', 'lungs-cxr', '--out', join(dir, 'out'), join(dir, 'labelled'));
    expect(submit.code).toBe(2);
    namesTheFlags(submit.err);
  });
});

describe('exemplars drawn from a folder', () => {
  it('never include an input, however its path is spelled', async () => {
    const o = { exemplarImages: join(dir, 'labelled'), exemplarMasks: join(dir, 'masks'), exemplars: 3, seed: 0 };
    const spelled = join(dir, 'labelled', '..', 'labelled', 'img-02.png');
    for (let seed = 0; seed < 5; seed++) {
      const files = await drawExemplarFiles({ ...o, seed }, [spelled]);
      expect(files).toHaveLength(3);
      expect(files.map((f) => f.image)).not.toContain(images[2]);
      expect(files.every((f) => f.mask.startsWith(join(dir, 'masks')))).toBe(true);
    }
    await expect(drawExemplarFiles({ ...o, exemplars: 4 }, [images[0]])).rejects.toThrow(/only 3 labelled images .* once the inputs being segmented are left out/);
  });
});

describe('salip queue', () => {
  it('without bullmq installed, says to npm i bullmq', async () => {
    const missing = Object.assign(new Error("Cannot find package 'bullmq' imported from /app/node_modules/salip/dist/queue.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    await expect(loadQueueModule(() => Promise.reject(missing))).rejects.toMatchObject({ code: 'MISSING_DEPENDENCY', message: expect.stringContaining('npm i bullmq') });
  });

  it('names a wrong action and a bad Redis URL', async () => {
    const action = await cli('queue', 'start', '--redis', 'redis://127.0.0.1:1');
    expect(action.err).toMatch(/INVALID_ARGUMENT: salip queue: expected an action \(submit, worker, status\), got 'start'/);
    const url = await cli('queue', 'status', '--redis', 'localhost:6379');
    expect(url.err).toMatch(/INVALID_ARGUMENT: --redis localhost:6379: expected a redis:\/\/ or rediss:\/\/ URL/);
  });

  it('batch --help shows the workers and the resumable manifest', async () => {
    const help = await cli('batch', '--help');
    expect(help.out).toContain('--workers <int>');
    expect(help.out).toContain('A rerun skips inputs already done');
  });
});
