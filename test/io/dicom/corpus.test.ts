/**
 * pydicom's test files (python3-pydicom): every file either decodes to the samples pydicom
 * (with GDCM) decodes - exactly for lossless syntaxes, within a mean of 3 grey levels for lossy
 * JPEG - or fails with a SalipError; none crashes. Files whose failure is expected are listed
 * with the code they must fail with.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SalipError } from '../../../src/core/errors.js';
import { decodeDicomFrames, readDicom } from '../../../src/dicom.js';
import { pyTool, pydicomCorpusDir } from './tools.js';

interface Reference {
  file: string;
  ok: boolean;
  shape?: [number, number, number, number];
  transferSyntax?: string;
  error?: string;
}

const LOSSY = new Set(['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.4.81']);

/** Files salip refuses although pydicom (with GDCM) decodes them, and why. */
const EXPECTED_FAILURES: Record<string, string> = {
  'JPEG-lossy.dcm': 'UNSUPPORTED_TRANSFER_SYNTAX', // 12-bit lossy JPEG: no maintained JS codec
  'JPGExtended.dcm': 'UNSUPPORTED_TRANSFER_SYNTAX',
  'JPEG2000-embedded-sequence-delimiter.dcm': 'DECODE_FAILED', // a delimiter inside the fragment
  'SC_rgb_jpeg.dcm': 'DECODE_FAILED', // says explicit VR, is implicit
};

let dir: string;
let files: string[];
let references: Reference[];

beforeAll(() => {
  const corpus = pydicomCorpusDir();
  files = readdirSync(corpus).filter((f) => f.endsWith('.dcm')).sort().map((f) => join(corpus, f));
  dir = mkdtempSync(join(tmpdir(), 'salip-dicom-corpus-'));
  references = pyTool('dump', dir, ...files).trim().split('\n').map((line) => JSON.parse(line));
});

function referenceSamples(index: number): Float64Array {
  const bytes = readFileSync(join(dir, `${index}.bin`));
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

describe("pydicom's test files", () => {
  it('cover the syntaxes the issue names', () => {
    const names = files.map((f) => f.split('/').pop());
    for (const n of ['CT_small.dcm', 'MR_small_RLE.dcm', 'MR_small_jpeg_ls_lossless.dcm', 'MR_small_jp2klossless.dcm', 'MR_small_bigendian.dcm', 'MR_small_implicit.dcm', 'MR_small_padded.dcm', 'MR_truncated.dcm', 'badVR.dcm', 'image_dfl.dcm', 'SC_rgb_jpeg_gdcm.dcm']) {
      expect(names).toContain(n);
    }
  });

  it('decode to the samples pydicom gives, or fail with a typed error', async () => {
    const outcomes: string[] = [];
    for (const [index, ref] of references.entries()) {
      const name = ref.file.split('/').pop()!;
      let decoded;
      try {
        decoded = await decodeDicomFrames(new Uint8Array(readFileSync(ref.file)), { name });
      } catch (error) {
        expect(error, `${name}: ${String(error)}`).toBeInstanceOf(SalipError);
        const code = (error as SalipError).code;
        if (ref.ok) expect(code, `${name} decodes in pydicom; salip failed with ${(error as Error).message}`).toBe(EXPECTED_FAILURES[name]);
        outcomes.push(`${name}: ${code}`);
        continue;
      }
      if (!ref.ok) {
        outcomes.push(`${name}: decoded (pydicom: ${ref.error})`);
        continue;
      }
      expect(EXPECTED_FAILURES[name], `${name} is listed as failing but decodes`).toBeUndefined();
      const [frames, rows, columns, samples] = ref.shape!;
      expect([decoded.frames.length, decoded.parsed.layout.rows, decoded.parsed.layout.columns, decoded.parsed.layout.samplesPerPixel], name).toEqual([frames, rows, columns, samples]);
      const expected = referenceSamples(index);
      const perFrame = rows * columns * samples;
      let sum = 0;
      let worst = 0;
      decoded.frames.forEach((frame, f) => {
        expect(frame.length, name).toBe(perFrame);
        for (let i = 0; i < perFrame; i++) {
          const d = Math.abs(frame[i] - expected[f * perFrame + i]);
          sum += d;
          if (d > worst) worst = d;
        }
      });
      const mean = sum / (frames * perFrame);
      if (LOSSY.has(ref.transferSyntax ?? '')) expect(mean, `${name} mean difference`).toBeLessThanOrEqual(3);
      else expect(worst, `${name} largest difference`).toBe(0);
      outcomes.push(`${name}: equal (max ${worst})`);
    }
    expect(outcomes.filter((o) => o.includes('equal')).length).toBeGreaterThanOrEqual(35);
  });

  it('turn into 8-bit images without crashing, MONOCHROME2 windowed by the file', async () => {
    const ct = await readDicom(new Uint8Array(readFileSync(files.find((f) => f.endsWith('/CT_small.dcm'))!)), { name: 'CT_small' });
    expect([ct.image.width, ct.image.height]).toEqual([128, 128]);
    expect(ct.mapping.rescaleIntercept).toBe(-1024);
    const values = new Set(ct.image.data);
    expect(values.size).toBeGreaterThan(50);
  });
});
