/**
 * The CLI end to end on the real MobileSAM weights and dev data: records JSON of `everything`,
 * masks and report of `eval`, a NIfTI volume from `segment`, and refusal to clobber outputs.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runCli } from '../../src/cli/run.js';
import { decodeMask, decodeRle, ellipseCircumference, ellipseMask, maskDice, readNifti, resizeMaskNearest, type CocoRle, type Ellipse } from '../../src/index.js';
import { REPO_ROOT, dataPath, taskImageNames } from '../helpers/data.js';

let dir: string;
let stdout: string[];

async function cli(...argv: string[]): Promise<{ code: number; err: string; out: string }> {
  let err = '';
  stdout = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout.push(String(s));
    return true;
  });
  try {
    const code = await runCli(main, argv, { stderr: { write: (s: string) => (err += s) }, exit: () => undefined });
    return { code, err, out: stdout.join('') };
  } finally {
    spy.mockRestore();
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'salip-cli-'));
});
afterAll(() => undefined);

describe('salip everything', () => {
  it('writes COCO-RLE records; on real CXRs some candidate covers one lung', async () => {
    const names = taskImageNames('lung_xray').filter((n) => n.startsWith('MCUCXR')).slice(0, 2);
    for (const name of names) {
      const json = join(dir, `${name}.json`);
      const res = await cli('everything', dataPath('lung_xray', 'images', name), '--size', '256', '--points-per-side', '16', '--pred-iou-thresh', '0.5', '--stability-score-thresh', '0.5', '--json', json, '--quiet');
      expect(res.err).toBe('');
      expect(res.code).toBe(0);
      const out = JSON.parse(readFileSync(json, 'utf8')) as { width: number; records: Array<{ segmentation: CocoRle; bbox: number[]; area: number; predicted_iou: number; stability_score: number }> };
      expect(out.records.length).toBeGreaterThan(0);
      const gt = resizeMaskNearest(decodeMask(new Uint8Array(readFileSync(dataPath('lung_xray', 'masks', name)))), 256, 256);
      let best = 0;
      for (const r of out.records) {
        expect(r.segmentation.size).toEqual([256, 256]);
        expect(r.bbox).toHaveLength(4);
        expect(r.predicted_iou).toBeGreaterThan(0.5);
        expect(r.stability_score).toBeGreaterThanOrEqual(0.5);
        best = Math.max(best, maskDice(decodeRle(r.segmentation), gt));
      }
      expect(best).toBeGreaterThanOrEqual(0.5);
    }
  });

  it('--fast prompts fewer grid points and says how many in its log', async () => {
    const name = taskImageNames('lung_xray').filter((n) => n.startsWith('MCUCXR'))[0];
    const run = async (...extra: string[]) => {
      const res = await cli('everything', dataPath('lung_xray', 'images', name), '--size', '256', '--points-per-side', '16', '--pred-iou-thresh', '0.5', ...extra);
      expect(res.code).toBe(0);
      // The summary line is logged to stdout unless --quiet.
      const calls = /\((\d+) decoder calls/.exec(res.out + res.err);
      expect(calls, res.out + res.err).not.toBeNull();
      return Number(calls![1]);
    };
    expect(await run()).toBe(256);
    const fast = await run('--fast');
    expect(fast).toBeGreaterThan(0);
    expect(fast).toBeLessThan(128);
  });
});

describe('salip eval', () => {
  it('writes one mask per image and per-image / mean scores for gt-box', async () => {
    const out = join(dir, 'masks');
    const report = join(dir, 'report.json');
    const html = join(dir, 'report.html');
    const res = await cli('eval', '--images', dataPath('fetal_head_us', 'images'), '--masks', dataPath('fetal_head_us', 'masks'), '--mode', 'gt-box', '--mode', 'unprompted', '--size', '256', '--limit', '3', '--save-masks', out, '--json', report, '--report', html);
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/gt-box\s+0\.\d{4}/);
    const files = readdirSync(join(out, 'gt-box')).sort();
    expect(files).toEqual(taskImageNames('fetal_head_us').slice(0, 3));
    const mask = decodeMask(new Uint8Array(readFileSync(join(out, 'gt-box', files[0]))));
    expect([mask.width, mask.height]).toEqual([256, 256]);
    const json = JSON.parse(readFileSync(report, 'utf8'));
    expect(json.images).toHaveLength(3);
    expect(json.mean['gt-box'].dice).toBeGreaterThan(0.85);
    expect(json.images[0].modes['gt-box'].iou).toBeLessThanOrEqual(json.images[0].modes['gt-box'].dice);
    expect(readFileSync(html, 'utf8')).toContain('<img src="data:image/png;base64,');

    // A second run refuses to overwrite the report and the masks without --force.
    const again = await cli('eval', '--images', dataPath('fetal_head_us', 'images'), '--masks', dataPath('fetal_head_us', 'masks'), '--mode', 'gt-box', '--limit', '1', '--json', report);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/^salip: OUTPUT_EXISTS: --json .*--force/);
  });

  it('needs --task for the cascade', async () => {
    const res = await cli('eval', '--images', dataPath('fetal_head_us', 'images'), '--masks', dataPath('fetal_head_us', 'masks'), '--mode', 'cascade');
    expect(res.code).toBe(2);
    expect(res.err).toContain('--task is required');
  });
});

describe('salip segment', () => {
  it('writes a NIfTI mask with the input volume\'s dimensions and affine (brain, exemplar scorer)', async () => {
    const task = join(dir, 'brain-task.json');
    writeFileSync(
      task,
      JSON.stringify({ name: 'brain-fast', classes: [{ name: 'brain', prompts: ['brain'], topK: 1 }], workingSize: 256, maxAreaFraction: 0.76, everything: { pointsPerSide: 6, predIouThresh: 0.5, stabilityScoreThresh: 0.3 } }),
    );
    const out = join(dir, 'brain.nii.gz');
    const input = dataPath('brain_mri', 'volumes', 'ch2.nii.gz');
    const res = await cli('segment', input, '--task', task, '--exemplar-images', dataPath('brain_mri', 'images'), '--exemplar-masks', dataPath('brain_mri', 'masks'), '--exemplars', '2', '--slices', '90:92', '--out', out, '--quiet');
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    const source = readNifti(new Uint8Array(readFileSync(input)));
    const written = readNifti(new Uint8Array(gunzipSync(readFileSync(out))));
    expect(written.dims).toEqual(source.dims);
    expect(written.affine).toEqual(source.affine);
    // Only slices 90 and 91 were segmented; each has a brain-sized mask.
    const [nx, ny] = source.dims;
    const perSlice = (z: number) => written.data.subarray(z * nx * ny, (z + 1) * nx * ny).reduce((a, b) => a + b, 0);
    expect(perSlice(50)).toBe(0);
    expect(perSlice(90)).toBeGreaterThan(1000);
    expect(perSlice(91)).toBeGreaterThan(1000);
  });

  it('fetal-head-us writes the head as an ellipse: its parameters and circumference (pixels) in the JSON, close to the reference head', async () => {
    const names = taskImageNames('fetal_head_us');
    const name = names.find((n) => n.startsWith('624'))!; // a clear head (0.95 Dice in the study)
    const out = join(dir, 'head.png');
    const json = join(dir, 'head.json');
    const res = await cli('segment', dataPath('fetal_head_us', 'images', name), '--task', 'fetal-head-us', '--exemplar-images', dataPath('fetal_head_us', 'images'), '--exemplar-masks', dataPath('fetal_head_us', 'masks'), '--exemplars', '3', '--out', out, '--json', json, '--quiet');
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    const result = JSON.parse(readFileSync(json, 'utf8')) as { imageSize: { width: number; height: number }; classes: Record<string, { mask: CocoRle; parts: Array<{ ellipse?: Ellipse & { circumference: number } }> }> };
    const head = result.classes['fetal-head'];
    const ellipse = head.parts[0].ellipse!;
    expect(ellipse).toBeDefined();
    // The mask is the ellipse, drawn at the input size.
    const { width, height } = result.imageSize;
    expect(maskDice(decodeRle(head.mask), ellipseMask(ellipse, width, height))).toBe(1);
    expect(ellipse.circumference).toBeCloseTo(ellipseCircumference(ellipse), 9);
    // The reference mask is a filled ellipse: its circumference from its second moments.
    const gt = decodeMask(new Uint8Array(readFileSync(dataPath('fetal_head_us', 'masks', name))));
    expect(maskDice(decodeRle(head.mask), gt)).toBeGreaterThan(0.85);
    let n = 0, sx = 0, sy = 0, xx = 0, yy = 0, xy = 0;
    for (let i = 0; i < gt.data.length; i++) if (gt.data[i]) { const x = i % gt.width, y = Math.floor(i / gt.width); n++; sx += x; sy += y; xx += x * x; yy += y * y; xy += x * y; }
    const [vx, vy, cxy] = [xx / n - (sx / n) ** 2, yy / n - (sy / n) ** 2, xy / n - (sx / n) * (sy / n)];
    const spread = Math.hypot((vx - vy) / 2, cxy);
    const reference = ellipseCircumference({ cx: 0, cy: 0, semiMajor: 2 * Math.sqrt((vx + vy) / 2 + spread), semiMinor: 2 * Math.sqrt((vx + vy) / 2 - spread), angle: 0 });
    expect(Math.abs(ellipse.circumference / reference - 1)).toBeLessThan(0.1);
  });

  it('refuses a wrong output type and a missing output folder before running any model', async () => {
    const image = dataPath('lung_xray', 'images', taskImageNames('lung_xray')[0]);
    const bad = await cli('segment', image, '--task', 'lungs-cxr', '--out', join(dir, 'x.nii.gz'));
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('INVALID_ARGUMENT');
    const missing = await cli('segment', image, '--task', 'lungs-cxr', '--out', join(dir, 'no', 'such', 'mask.png'));
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('OUTPUT_DIR_MISSING');
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });
});

describe('a new organ as a user brings it: task JSON naming only the class, exemplars from a folder', () => {
  it('tune --task-out writes a complete task (prompts, exemplar paths) that segment and eval take as is', async () => {
    const images = dataPath('jsrt_heart', 'images');
    const masks = dataPath('jsrt_heart', 'masks');
    const taskFile = join(REPO_ROOT, 'examples', 'tasks', 'jsrt-heart.task.json');
    const tuned = join(dir, 'tuned-heart.json');
    const res = await cli(
      'tune', '--images', images, '--masks', masks, '--task', taskFile, '--objective', 'labelled',
      '--iterations', '1', '--sample-size', '1', '--exemplar-images', images, '--exemplar-masks', masks, '--exemplars', '2',
      '--task-out', tuned, '--quiet',
    );
    expect(res.code, res.err).toBe(0);
    const written = JSON.parse(readFileSync(tuned, 'utf8'));
    expect(written.classes[0].name).toBe('heart');
    expect(written.classes[0].prompts.length).toBeGreaterThan(0);
    expect(written.classes[0].exemplars).toHaveLength(2);
    for (const e of written.classes[0].exemplars) {
      expect(existsSync(join(dir, e.image))).toBe(true);
      expect(existsSync(join(dir, e.mask))).toBe(true);
    }
    expect(written.refine.iterations).toBeGreaterThanOrEqual(1);
    // segment with the tuned task alone: its exemplars describe the heart.
    const name = taskImageNames('jsrt_heart').find((n) => !written.classes[0].exemplars.some((e: { image: string }) => e.image.endsWith(n)))!;
    const out = join(dir, 'heart-mask.png');
    const seg = await cli('segment', join(images, name), '--task', tuned, '--out', out, '--quiet');
    expect(seg.code, seg.err).toBe(0);
    // One random trial decides the settings, so only the mask's form is checked here (quality is the slow suite's).
    const mask = decodeMask(new Uint8Array(readFileSync(out)));
    const gt = decodeMask(new Uint8Array(readFileSync(join(masks, name))));
    expect([mask.width, mask.height]).toEqual([gt.width, gt.height]);
    expect(mask.data.some((v) => v > 0)).toBe(true);
    // eval takes it too, with the exemplar-box baseline beside the cascade.
    const ev = await cli('eval', '--images', images, '--masks', masks, '--task', tuned, '--limit', '4', '--size', '256', '--mode', 'cascade', '--mode', 'exemplar-box', '--json', join(dir, 'heart-eval.json'), '--quiet');
    expect(ev.code, ev.err).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'heart-eval.json'), 'utf8'));
    expect(Object.keys(report.mean)).toEqual(['cascade', 'exemplar-box']);
    expect(report.meanDecoderCalls).toBeGreaterThan(0);
  });
});
