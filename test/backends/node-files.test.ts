import { promises as fs, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { listImageFiles, readFileBytes, readImageFile, readMaskFile, removeStaleTempFiles, writeFileAtomic } from '../../src/backends/node-files.js';
import { SalipError } from '../../src/core/errors.js';
import { encodeMaskPng, encodePng } from '../../src/io/image-codecs.js';
import { dataPath } from '../helpers/data.js';

let root: string;

/** An fs error as Node raises it. Permission errors are injected because root (CI) ignores modes. */
function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

beforeAll(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'salip-node-files-'));
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

afterEach(() => {
  vi.restoreAllMocks();
});

async function failure(promise: Promise<unknown>): Promise<SalipError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SalipError);
    return error as SalipError;
  }
  throw new Error('expected a SalipError');
}

describe('readFileBytes', () => {
  it('returns the file content as a Uint8Array', async () => {
    const path = join(root, 'bytes.bin');
    await fs.writeFile(path, Uint8Array.from([1, 2, 3]));
    const bytes = await readFileBytes(path, 'model');
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(Array.from(bytes)).toEqual([1, 2, 3]);
  });

  it('FILE_NOT_FOUND names the path and what it was', async () => {
    const path = join(root, 'missing.onnx');
    const error = await failure(readFileBytes(path, 'SAM encoder'));
    expect(error.code).toBe('FILE_NOT_FOUND');
    expect(error.message).toBe(`SAM encoder ${path} does not exist`);
    expect((await failure(readFileBytes(join(root, 'bytes.bin', 'below'), 'image'))).code).toBe('FILE_NOT_FOUND');
  });

  it('FILE_UNREADABLE for a directory', async () => {
    const error = await failure(readFileBytes(root, 'image'));
    expect(error.code).toBe('FILE_UNREADABLE');
    expect(error.message).toContain(root);
    expect(error.message).toContain('directory');
  });

  it('FILE_UNREADABLE for a file without read permission', async () => {
    const path = join(root, 'secret.png');
    vi.spyOn(fs, 'readFile').mockRejectedValueOnce(errnoError('EACCES'));
    const error = await failure(readFileBytes(path, 'image'));
    expect(error.code).toBe('FILE_UNREADABLE');
    expect(error.message).toBe(`cannot read image ${path}: permission denied`);
  });
});

describe('readImageFile / readMaskFile', () => {
  it('decodes a real 8-bit gray PNG to RGB', async () => {
    const image = await readImageFile(dataPath('brain_mri', 'images', 'colin27_axial_z051.png'));
    expect([image.width, image.height, image.data.length]).toEqual([181, 217, 181 * 217 * 3]);
  });

  it('decodes a written mask PNG back to 0/1', async () => {
    const path = join(root, 'mask.png');
    await fs.writeFile(path, encodeMaskPng({ width: 3, height: 1, data: Uint8Array.from([0, 1, 1]) }));
    const mask = await readMaskFile(path);
    expect([mask.width, mask.height, ...mask.data]).toEqual([3, 1, 0, 1, 1]);
  });

  it('passes maxPixels on and names the file in decode errors', async () => {
    const path = join(root, 'big.png');
    await fs.writeFile(path, encodePng({ width: 4, height: 4, data: new Uint8Array(48) }));
    expect((await failure(readImageFile(path, { maxPixels: 15 }))).code).toBe('INVALID_IMAGE');
    const junk = join(root, 'junk.png');
    await fs.writeFile(junk, 'not an image at all');
    const error = await failure(readImageFile(junk));
    expect(error.code).toBe('UNSUPPORTED_FORMAT');
    expect(error.message).toContain(junk);
  });
});

describe('writeFileAtomic', () => {
  it('writes a new file and leaves no temp file behind', async () => {
    const dir = await fs.mkdtemp(join(root, 'out-'));
    const path = join(dir, 'mask.png');
    await writeFileAtomic(path, Uint8Array.from([9, 8, 7]));
    expect(Array.from(readFileSync(path))).toEqual([9, 8, 7]);
    expect(await fs.readdir(dir)).toEqual(['mask.png']);
  });

  it('refuses an existing file without force (OUTPUT_EXISTS, says --force), overwrites with force', async () => {
    const path = join(root, 'existing.bin');
    await fs.writeFile(path, 'old');
    const error = await failure(writeFileAtomic(path, Uint8Array.from([1])));
    expect(error.code).toBe('OUTPUT_EXISTS');
    expect(error.message).toContain(path);
    expect(error.message).toContain('use --force');
    expect(readFileSync(path, 'utf8')).toBe('old');
    await writeFileAtomic(path, Uint8Array.from([0x6e, 0x65, 0x77]), { force: true });
    expect(readFileSync(path, 'utf8')).toBe('new');
  });

  it('OUTPUT_DIR_MISSING when the parent directory does not exist or is a file', async () => {
    const missing = join(root, 'no-such-dir', 'out.png');
    const error = await failure(writeFileAtomic(missing, new Uint8Array(1)));
    expect(error.code).toBe('OUTPUT_DIR_MISSING');
    expect(error.message).toContain(join(root, 'no-such-dir'));
    const file = join(root, 'plain-file');
    await fs.writeFile(file, '');
    expect((await failure(writeFileAtomic(join(file, 'out.png'), new Uint8Array(1)))).code).toBe('OUTPUT_DIR_MISSING');
  });

  it('OUTPUT_WRITE_FAILED when a directory is in the way, and the temp file is removed', async () => {
    const dir = await fs.mkdtemp(join(root, 'blocked-'));
    await fs.mkdir(join(dir, 'taken'));
    const error = await failure(writeFileAtomic(join(dir, 'taken'), Uint8Array.from([1]), { force: true }));
    expect(error.code).toBe('OUTPUT_WRITE_FAILED');
    expect(error.message).toContain(join(dir, 'taken'));
    expect(await fs.readdir(dir)).toEqual(['taken']);
  });

  it('OUTPUT_WRITE_FAILED in a directory without write permission', async () => {
    const dir = await fs.mkdtemp(join(root, 'locked-'));
    vi.spyOn(fs, 'open').mockRejectedValueOnce(errnoError('EACCES'));
    const error = await failure(writeFileAtomic(join(dir, 'out.png'), Uint8Array.from([1])));
    expect(error.code).toBe('OUTPUT_WRITE_FAILED');
    expect(error.message).toBe(`cannot write output ${join(dir, 'out.png')}: permission denied`);
  });

  it('removes the fully written temp file when the final rename fails', async () => {
    const dir = await fs.mkdtemp(join(root, 'full-'));
    const rename = vi.spyOn(fs, 'rename').mockRejectedValueOnce(errnoError('ENOSPC'));
    const error = await failure(writeFileAtomic(join(dir, 'out.png'), Uint8Array.from([1, 2])));
    expect(rename).toHaveBeenCalledOnce();
    expect(error.code).toBe('OUTPUT_WRITE_FAILED');
    expect(error.message).toContain('no space left');
    expect(await fs.readdir(dir)).toEqual([]);
  });
});

describe('listImageFiles', () => {
  it('lists .png/.jpg/.jpeg files (any case), sorted, skipping hidden files, folders and other types', async () => {
    const dir = await fs.mkdtemp(join(root, 'images-'));
    for (const name of ['b.png', 'a.JPG', 'c.jpeg', 'notes.txt', '.hidden.png', 'scan.nii.gz', 'B.png']) {
      await fs.writeFile(join(dir, name), '');
    }
    await fs.mkdir(join(dir, 'folder.png'));
    await fs.symlink(join(dir, 'b.png'), join(dir, 'link.png'));
    expect(await listImageFiles(dir)).toEqual(['B.png', 'a.JPG', 'b.png', 'c.jpeg', 'link.png'].map((n) => join(dir, n)));
  });

  it('FILE_NOT_FOUND for a missing directory, FILE_UNREADABLE for a file', async () => {
    const missing = await failure(listImageFiles(join(root, 'nope')));
    expect(missing.code).toBe('FILE_NOT_FOUND');
    expect(missing.message).toContain('image directory');
    const file = join(root, 'a-file.png');
    await fs.writeFile(file, '');
    expect((await failure(listImageFiles(file))).code).toBe('FILE_UNREADABLE');
  });

  it('FILE_UNREADABLE for a directory without read permission', async () => {
    const dir = await fs.mkdtemp(join(root, 'unlisted-'));
    vi.spyOn(fs, 'readdir').mockRejectedValueOnce(errnoError('EACCES'));
    const error = await failure(listImageFiles(dir));
    expect(error.code).toBe('FILE_UNREADABLE');
    expect(error.message).toBe(`cannot read image directory ${dir}: permission denied`);
  });
});

describe('removeStaleTempFiles', () => {
  it('removes only writeFileAtomic temp files older than the limit', async () => {
    const dir = await fs.mkdtemp(join(root, 'sweep-'));
    const hourAgo = new Date(Date.now() - 2 * 3_600_000);
    const stale = '.a.png.4242.0badf00d.tmp';
    const fresh = '.b.png.4242.deadbeef.tmp';
    const lookalike = '.c.png.tmp'; // not our pattern: someone else's file
    for (const name of [stale, fresh, lookalike, 'd.png']) await fs.writeFile(join(dir, name), 'x');
    for (const name of [stale, lookalike, 'd.png']) await fs.utimes(join(dir, name), hourAgo, hourAgo);
    expect(await removeStaleTempFiles(dir)).toBe(1);
    expect((await fs.readdir(dir)).sort()).toEqual([fresh, lookalike, 'd.png'].sort());
    expect(await removeStaleTempFiles(join(root, 'missing-dir'))).toBe(0);
  });

  it('sweeps a temp file named as writeFileAtomic names it', async () => {
    const dir = await fs.mkdtemp(join(root, 'sweep-real-'));
    // Keep the temp file: the failure clean-up's rm is made to fail once.
    vi.spyOn(fs, 'rename').mockRejectedValueOnce(errnoError('EIO'));
    vi.spyOn(fs, 'rm').mockRejectedValueOnce(errnoError('EIO'));
    await expect(writeFileAtomic(join(dir, 'f.png'), new Uint8Array([1]))).rejects.toThrow();
    vi.restoreAllMocks();
    const [left] = await fs.readdir(dir);
    expect(left).toMatch(/^\.f\.png\.\d+\.[0-9a-f]{8}\.tmp$/);
    expect(await removeStaleTempFiles(dir, 60_000, Date.now() + 120_000)).toBe(1);
    expect(await fs.readdir(dir)).toEqual([]);
  });
});
