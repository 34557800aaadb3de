/**
 * The examples are documentation that must keep working: each type-checks (tsc over the
 * project includes examples/) and runs to completion on the development data.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fakeOpenClipTowers } from './helpers/clip-fake-models.js';
import { DATA_DIR, REPO_ROOT, dataPath, taskImageNames } from './helpers/data.js';

const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
const work = mkdtempSync(join(tmpdir(), 'salip-examples-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(script: string, args: string[] = []): string {
  const res = spawnSync(tsx, [join(REPO_ROOT, 'examples', script), ...args], {
    cwd: work,
    env: { ...process.env, SALIP_DATA_DIR: DATA_DIR },
    encoding: 'utf8',
    timeout: 590_000,
  });
  if (res.status !== 0) throw new Error(`${script} exited ${res.status}:\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

describe('examples', () => {
  it('type-check', () => {
    execFileSync(join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', REPO_ROOT], { encoding: 'utf8' });
  });

  it('demo writes the three overlays into a fresh folder, leaving earlier runs alone', () => {
    mkdirSync(join(work, 'out', 'demo-1'), { recursive: true });
    writeFileSync(join(work, 'out', 'demo-1', 'everything.png'), 'an earlier run');
    const out = run('demo.ts');
    expect(out).toMatch(/segment-everything: \d+ candidates/);
    expect(out).toMatch(/box prompts: 2 boxes .* Dice vs ground truth 0\.\d+/);
    expect(out).toMatch(/cascade \(exemplar scorer\): \d+ candidates, chose 2/);
    expect(readdirSync(join(work, 'out', 'demo-2')).sort()).toEqual(['boxes.png', 'cascade.png', 'everything.png']);
    expect(readFileSync(join(work, 'out', 'demo-1', 'everything.png'), 'utf8')).toBe('an earlier run');
  }, 600_000);

  it('custom cascade prints its Dice values', () => {
    expect(run('custom-cascade.ts')).toMatch(/Dice vs ground truth: candidate 0\.\d+, box\+point \d\.\d+, second pass \d\.\d+/);
  }, 600_000);

  it('volume writes a NIfTI mask and reports Dice', () => {
    const out = join(work, 'brain.nii.gz');
    const text = run('volume.ts', [dataPath('brain_mri', 'volumes', 'ch2.nii.gz'), out, '90:92']);
    expect(existsSync(out)).toBe(true);
    expect(text).toMatch(/Dice on slices 90..91 vs ch2bet: 0\.\d+/);
  }, 600_000);

  it('tune compares the labelled and label-free searches', () => {
    const text = run('tune.ts', ['2', '2']);
    expect(text).toMatch(/labelled .* Dice on \d+ held-out images/);
    expect(text).toMatch(/label-free .* Dice on \d+ held-out images/);
  }, 600_000);

  it('clip-text runs the cascade on a CLIP export (tiny generated OpenAI-style towers)', () => {
    const { visual, textual } = fakeOpenClipTowers();
    writeFileSync(join(work, 'visual.onnx'), visual);
    writeFileSync(join(work, 'textual.onnx'), textual);
    const image = dataPath('lung_xray', 'images', taskImageNames('lung_xray')[0]);
    const text = run('clip-text.ts', ['--preset', 'openai', '--vision', join(work, 'visual.onnx'), '--text', join(work, 'textual.onnx'), '--points-per-side', '4', image, 'a red organ']);
    expect(text).toMatch(/CLIP: .*"preset":"openai"/);
    expect(text).toMatch(/candidates scored; chose #\d+/);
  });
});
