/**
 * The CLI's error contract through its real entry points (main via runCli, and the `salip`
 * executable as a process): a diagnosed error prints `salip: <CODE>: <message>` on stderr and
 * exits 2 (stack only with --debug); an internal error exits 1 with its stack. Outputs are written
 * atomically: an interrupted write leaves neither a partial target nor a temp file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fsp, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { runCli } from '../../src/cli/run.js';
import { encodePng } from '../../src/index.js';
import { REPO_ROOT } from '../helpers/data.js';
import { testImage } from '../helpers/fake-sam.js';
import { fakeSamEncoder, fakeSingleMaskDecoder } from '../helpers/sam-fake-models.js';

/** Set by a test to make model loading fail with an unexpected (non-Salip) error: a simulated bug. */
const hooks = vi.hoisted(() => ({ modelLoadBug: undefined as Error | undefined }));

vi.mock('../../src/cli/models.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/cli/models.js')>();
  return {
    ...real,
    salipFromFlags: async (options: Parameters<typeof real.salipFromFlags>[0]) => {
      if (hooks.modelLoadBug) throw hooks.modelLoadBug;
      return real.salipFromFlags(options);
    },
  };
});

let dir: string;
let image: string;
let models: string[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'salip-cli-errors-'));
  image = join(dir, 'image.png');
  writeFileSync(image, encodePng(testImage(32, 32, [5, 5, 20, 20])));
  writeFileSync(join(dir, 'encoder.onnx'), fakeSamEncoder());
  writeFileSync(join(dir, 'decoder.onnx'), fakeSingleMaskDecoder());
  models = ['--sam-preset', 'sam', '--sam-encoder', join(dir, 'encoder.onnx'), '--sam-decoder', join(dir, 'decoder.onnx'), '--quiet', '--points-per-side', '2'];
});

afterEach(() => {
  hooks.modelLoadBug = undefined;
  vi.restoreAllMocks();
});

async function cli(...argv: string[]): Promise<{ status: number; exits: number[]; err: string; out: string }> {
  let err = '';
  let out = '';
  const exits: number[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  try {
    const status = await runCli(main, argv, { stderr: { write: (s: string) => (err += s) }, exit: (code) => exits.push(code) });
    return { status, exits, err, out };
  } finally {
    stdout.mockRestore();
  }
}

/** Files in a folder that are neither the given names nor the fixtures. */
function strayFiles(folder: string, ...allowed: string[]): string[] {
  return readdirSync(folder).filter((n) => !['image.png', 'encoder.onnx', 'decoder.onnx', ...allowed].includes(n));
}

describe('diagnosed errors', () => {
  it('print one line `salip: CODE: message` on stderr, nothing on stdout, and exit 2', async () => {
    const missing = join(dir, 'missing.png');
    const r = await cli('segment', missing, '--task', 'lungs-cxr', '--out', join(dir, 'mask.png'));
    expect(r.status).toBe(2);
    expect(r.exits).toEqual([2]);
    expect(r.err).toBe(`salip: FILE_NOT_FOUND: image ${missing} does not exist\n`);
    expect(r.out).toBe('');
    expect(existsSync(join(dir, 'mask.png'))).toBe(false);
  });

  it('add the stack and the cause chain with --debug, after the same first line', async () => {
    const missing = join(dir, 'missing.png');
    const r = await cli('segment', missing, '--task', 'lungs-cxr', '--debug');
    expect(r.status).toBe(2);
    const [first, ...rest] = r.err.split('\n');
    expect(first).toBe(`salip: FILE_NOT_FOUND: image ${missing} does not exist`);
    const debug = rest.join('\n');
    expect(debug).toMatch(/^SalipError: image .* does not exist\n\s+at /);
    expect(debug).toMatch(/Caused by: Error: ENOENT/);
  });

  it('cover command-line mistakes too (unknown command, missing required flag)', async () => {
    const unknown = await cli('segmnet', image);
    expect(unknown.status).toBe(2);
    expect(unknown.err).toMatch(/^salip: INVALID_ARGUMENT: .*segmnet/);
    const noTask = await cli('segment', image);
    expect(noTask.status).toBe(2);
    expect(noTask.err).toMatch(/^salip: INVALID_ARGUMENT: --task: required/);
    for (const r of [unknown, noTask]) expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('exit 2 from the real `salip` process (bin.ts under tsx), with the same line', () => {
    const missing = join(dir, 'missing.png');
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'bin.ts'), 'segment', missing, '--task', 'lungs-cxr'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toBe(`salip: FILE_NOT_FOUND: image ${missing} does not exist\n`);
    expect(run.stdout).toBe('');
  });
});

describe('internal errors', () => {
  it('print "internal error" and the stack, and exit 1 (with or without --debug)', async () => {
    hooks.modelLoadBug = new TypeError("Cannot read properties of undefined (reading 'decode')");
    for (const extra of [[], ['--debug']]) {
      const r = await cli('everything', image, ...models, ...extra);
      expect(r.status).toBe(1);
      expect(r.exits).toEqual([1]);
      expect(r.err.startsWith('salip: internal error (please report it):\nTypeError: Cannot read properties of undefined')).toBe(true);
      expect(r.err).toMatch(/\n\s+at /);
    }
  });
});

describe('atomic output writes', () => {
  it('a successful run leaves exactly the outputs (no temp files)', async () => {
    const json = join(dir, 'ok.json');
    const r = await cli('everything', image, '--json', json, '--overlay', join(dir, 'ok.png'), ...models);
    expect([r.status, r.err]).toEqual([0, '']);
    expect(JSON.parse(readFileSync(json, 'utf8')).width).toBe(32);
    expect(strayFiles(dir, 'ok.json', 'ok.png')).toEqual([]);
  });

  it('a failing final rename leaves neither the target nor the temp file', async () => {
    const json = join(dir, 'renamed.json');
    const rename = vi.spyOn(fsp, 'rename').mockRejectedValueOnce(Object.assign(new Error('EIO: simulated'), { code: 'EIO' }));
    const r = await cli('everything', image, '--json', json, ...models);
    expect(rename).toHaveBeenCalledOnce();
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/^salip: OUTPUT_WRITE_FAILED: cannot write output .*renamed\.json: EIO: simulated\n$/);
    expect(existsSync(json)).toBe(false);
    expect(strayFiles(dir, 'ok.json', 'ok.png')).toEqual([]);
  });

  it('a write interrupted half-way leaves no partial target and no temp file; an existing output keeps its content', async () => {
    const probe = await fsp.open(image, 'r');
    const handleProto = Object.getPrototypeOf(probe) as FileHandle;
    await probe.close();
    const existing = join(dir, 'existing.json');
    const before = '{"records": "from an earlier run"}';
    writeFileSync(existing, before);
    let partialSeen = 0;
    // Writes the first half of the bytes to the temp file, then fails as a full disk or a kill would.
    vi.spyOn(handleProto, 'writeFile').mockImplementation(async function (this: FileHandle, data: unknown) {
      const bytes = data as Uint8Array;
      await this.write(bytes.subarray(0, bytes.length >> 1));
      partialSeen = readdirSync(dir).filter((n) => n.endsWith('.tmp')).length;
      throw Object.assign(new Error('ENOSPC: simulated'), { code: 'ENOSPC' });
    });
    const fresh = join(dir, 'fresh.json');
    const r1 = await cli('everything', image, '--json', fresh, ...models);
    const r2 = await cli('everything', image, '--json', existing, '--force', ...models);
    for (const r of [r1, r2]) {
      expect(r.status).toBe(2);
      expect(r.err).toMatch(/^salip: OUTPUT_WRITE_FAILED: .*no space left on the device\n$/);
    }
    expect(partialSeen).toBe(1);
    expect(existsSync(fresh)).toBe(false);
    expect(readFileSync(existing, 'utf8')).toBe(before);
    expect(strayFiles(dir, 'ok.json', 'ok.png', 'existing.json')).toEqual([]);
  });
});
