/** Input expansion and kind detection, and the exactly-once job runner, on temporary files. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDistinctOutputs, expandInputs, inputKindOf, outputPathFor } from '../../src/batch/inputs.js';
import { runJobOnce, writeOnce, type InputJob } from '../../src/batch/job.js';
import { jobKey, readRecord, SALIP_VERSION } from '../../src/batch/manifest.js';
import { SalipError } from '../../src/core/errors.js';
import { REPO_ROOT } from '../helpers/data.js';
import { writeTestImages } from '../helpers/test-images.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'salip-inputs-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('inputKindOf', () => {
  it('knows images and volumes by name, then by their first bytes, else says nothing', () => {
    expect(['a.png', 'b.JPG', 'c.jpeg', 'd.nii', 'e.nii.gz', 'f.txt'].map((p) => inputKindOf(p))).toEqual(['image', 'image', 'image', 'volume', 'volume', undefined]);
    const nifti = new Uint8Array(352);
    nifti.set([0x6e, 0x2b, 0x31, 0], 344);
    expect(inputKindOf('scan', new Uint8Array([0x89, 0x50, 0x4e, 0x47]))).toBe('image');
    expect(inputKindOf('scan', new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe('image');
    expect(inputKindOf('scan', nifti)).toBe('volume');
    expect(inputKindOf('scan', new TextEncoder().encode('hello'))).toBeUndefined();
  });
});

describe('expandInputs', () => {
  it('walks folders (skipping hidden entries and the output folder), reads list files, keeps single files, drops duplicates', async () => {
    const root = join(dir, 'root');
    writeTestImages(join(root, 'x'), 2);
    writeTestImages(join(root, '.hidden'), 1);
    writeTestImages(join(root, 'out'), 1);
    writeFileSync(join(root, 'x', 'notes.md'), 'not an input');
    writeFileSync(join(root, 'volume.nii.gz'), 'pretend');
    const lists = join(dir, 'lists');
    mkdirSync(join(lists, 'sub'), { recursive: true });
    writeFileSync(join(lists, 'sub', 'scan'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2]));
    writeFileSync(join(lists, 'inputs.txt'), `# comment\n\nsub/scan\n${join(root, 'x', 'img-00.png')}\n`);
    const inputs = await expandInputs([root, join(lists, 'inputs.txt'), join(root, 'x', 'img-01.png')], join(root, 'out'));
    expect(inputs.map((i) => [i.relative, i.kind])).toEqual([
      ['volume.nii.gz', 'volume'],
      [join('x', 'img-00.png'), 'image'],
      [join('x', 'img-01.png'), 'image'],
      [join('sub', 'scan'), 'image'],
    ]);
    expect(outputPathFor(inputs[0], '/o')).toBe('/o/volume.nii.gz');
    expect(outputPathFor(inputs[3], '/o')).toBe('/o/sub/scan.png');
    await expect(expandInputs([join(dir, 'nowhere')])).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });

  it('refuses two inputs that would write the same mask', () => {
    const clash = [
      { path: '/a/scan.png', relative: 'scan.png', kind: 'image' as const },
      { path: '/b/scan.jpg', relative: 'scan.jpg', kind: 'image' as const },
    ];
    expect(() => checkDistinctOutputs(clash, '/o')).toThrow(/would both write \/o\/scan\.png/);
  });
});

describe('runJobOnce', () => {
  const job = (name: string, taskHash = 't1'): InputJob => ({ input: join(dir, name), kind: 'image', output: join(dir, 'jobs-out', 'sub', `${name}.png`), inputHash: `h-${name}`, taskHash });

  it('processes, writes and records once; a second call skips; a new task hash redoes it', async () => {
    const outDir = join(dir, 'jobs-out');
    let calls = 0;
    const processor = async () => ({ bytes: new Uint8Array([++calls]), stats: { area: 1 } });
    const first = await runJobOnce(job('a'), processor, { outDir });
    expect(first).toMatchObject({ status: 'done', written: true, stats: { area: 1 } });
    expect(await readRecord(outDir, jobKey('h-a', 't1'))).toMatchObject({ status: 'done', version: SALIP_VERSION });
    expect(await runJobOnce(job('a'), processor, { outDir })).toMatchObject({ status: 'skipped', written: false });
    expect(calls).toBe(1);
    expect(await runJobOnce(job('a', 't2'), processor, { outDir })).toMatchObject({ status: 'done', written: true });
    expect([...readFileSync(job('a').output)]).toEqual([2]);
  });

  it('turns a throwing processor into a failed outcome with the code, recorded, never thrown', async () => {
    const outDir = join(dir, 'jobs-out');
    const outcome = await runJobOnce(job('b'), async () => {
      throw new SalipError('DECODE_FAILED', 'b is not a PNG');
    }, { outDir });
    expect(outcome).toMatchObject({ status: 'failed', code: 'DECODE_FAILED', message: 'b is not a PNG', written: false });
    expect(await readRecord(outDir, jobKey('h-b', 't1'))).toMatchObject({ status: 'failed', code: 'DECODE_FAILED' });
    const bug = await runJobOnce(job('c'), async () => {
      throw new TypeError('oops');
    }, { outDir });
    expect(bug).toMatchObject({ status: 'failed', code: 'INTERNAL_ERROR', message: 'oops' });
    expect(await runJobOnce({ ...job('d'), kind: undefined }, async () => ({ bytes: new Uint8Array(1) }), { outDir })).toMatchObject({ code: 'UNSUPPORTED_FORMAT' });
  });

  it('does not rewrite a mask an earlier attempt of the same job already wrote', async () => {
    const path = join(dir, 'once', 'm.png');
    expect(await writeOnce(path, new Uint8Array([1, 2, 3]))).toBe(true);
    expect(await writeOnce(path, new Uint8Array([1, 2, 3]))).toBe(false);
    expect(await writeOnce(path, new Uint8Array([4]))).toBe(true);
    expect([...readFileSync(path)]).toEqual([4]);
  });

  it('records the version of package.json', () => {
    expect(SALIP_VERSION).toBe(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version);
  });
});
