/**
 * Node file helpers for the CLI and Node users: read inputs with errors that name the file and
 * what it was meant to be, decode images and masks, list image folders, and write outputs
 * atomically (temp file + rename) so an interrupted run never leaves a half-written file.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { SalipError } from '../core/errors.js';
import type { BinaryMask, RgbImage } from '../core/types.js';
import { decodeImage, decodeMask } from '../io/image-codecs.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

/** Reads a whole file; FILE_NOT_FOUND / FILE_UNREADABLE name the path and `what` ("image", "SAM encoder"). */
export async function readFileBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    const buffer = await fs.readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    throw readError(error, path, what);
  }
}

/** Reads and decodes a PNG or JPEG file into an RgbImage (NIfTI is not handled here). */
export async function readImageFile(path: string, options: { maxPixels?: number } = {}): Promise<RgbImage> {
  const bytes = await readFileBytes(path, 'image');
  return decodeImage(bytes, { maxPixels: options.maxPixels, name: path }).image;
}

/** Reads a PNG or JPEG mask file (foreground = value > 127 of the first channel). */
export async function readMaskFile(path: string): Promise<BinaryMask> {
  const bytes = await readFileBytes(path, 'mask');
  return decodeMask(bytes, { name: path });
}

/**
 * Writes `bytes` to `path` through a temp file in the same directory and a rename. Refuses an
 * existing file unless options.force (OUTPUT_EXISTS), a missing parent directory gives
 * OUTPUT_DIR_MISSING, other failures OUTPUT_WRITE_FAILED; the temp file is removed on failure.
 * The existence check and the rename are two steps, so a file created in between is overwritten.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array, options: { force?: boolean } = {}): Promise<void> {
  const directory = dirname(path);
  await checkOutputDirectory(directory, path);
  if (!options.force && (await exists(path))) {
    throw new SalipError('OUTPUT_EXISTS', `output ${path} already exists; use --force to overwrite it`, { details: { path } });
  }
  const temp = join(directory, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await fs.open(temp, 'wx');
    try {
      await handle.writeFile(bytes);
      // Flush before the rename so a crash cannot leave the final name pointing at empty data.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, path);
  } catch (error) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw new SalipError('OUTPUT_WRITE_FAILED', `cannot write output ${path}: ${describeErrno(error)}`, { cause: error, details: { path } });
  }
}

/** Names writeFileAtomic gives its temp files: `.<final name>.<pid>.<8 hex>.tmp`. */
const TEMP_FILE = /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/;

/**
 * Removes writeFileAtomic temp files in `directory` older than `olderThanMs` (default one hour),
 * and returns how many. A process killed between writing and renaming (SIGKILL, power loss)
 * leaves one behind; the age limit keeps a sweep from taking a file another process, perhaps on
 * another machine sharing the folder, is writing now. A missing directory sweeps nothing.
 */
export async function removeStaleTempFiles(directory: string, olderThanMs = 3_600_000, now = Date.now()): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(directory);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names.filter((n) => TEMP_FILE.test(n))) {
    const path = join(directory, name);
    const stat = await fs.stat(path).catch(() => undefined);
    if (stat === undefined || !stat.isFile() || now - stat.mtimeMs < olderThanMs) continue;
    await fs.rm(path, { force: true });
    removed += 1;
  }
  return removed;
}

/**
 * The .png / .jpg / .jpeg files of a directory (case-insensitive extension, hidden files skipped,
 * symlinks to files followed) as full paths in code-point order of their names.
 */
export async function listImageFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (errnoCode(error) === 'ENOTDIR' && (await isFile(dir))) {
      throw new SalipError('FILE_UNREADABLE', `image directory ${dir} is a file, expected a directory`, { cause: error, details: { path: dir } });
    }
    throw readError(error, dir, 'image directory');
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.') || !IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) continue;
    if (entry.isFile() || (entry.isSymbolicLink() && (await isFile(join(dir, entry.name))))) names.push(entry.name);
  }
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return names.map((name) => join(dir, name));
}

async function checkOutputDirectory(directory: string, path: string): Promise<void> {
  let stats;
  try {
    stats = await fs.stat(directory);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') {
      throw new SalipError('OUTPUT_DIR_MISSING', `output directory ${directory} does not exist (for ${path}); create it first`, {
        cause: error,
        details: { path, directory },
      });
    }
    throw new SalipError('OUTPUT_WRITE_FAILED', `cannot write output ${path}: ${describeErrno(error)}`, { cause: error, details: { path } });
  }
  if (!stats.isDirectory()) {
    throw new SalipError('OUTPUT_DIR_MISSING', `output directory ${directory} is not a directory (for ${path})`, { details: { path, directory } });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).isFile();
  } catch {
    return false;
  }
}

function readError(error: unknown, path: string, what: string): SalipError {
  const code = errnoCode(error);
  if (code === 'ENOENT') {
    return new SalipError('FILE_NOT_FOUND', `${what} ${path} does not exist`, { cause: error, details: { path } });
  }
  if (code === 'ENOTDIR') {
    // Either a parent component is a file (so the path cannot exist) or a directory was expected.
    return new SalipError('FILE_NOT_FOUND', `${what} ${path} does not exist (a part of the path is not a directory)`, {
      cause: error,
      details: { path },
    });
  }
  return new SalipError('FILE_UNREADABLE', `cannot read ${what} ${path}: ${describeErrno(error)}`, { cause: error, details: { path } });
}

function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

function describeErrno(error: unknown): string {
  switch (errnoCode(error)) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    case 'ENOTDIR':
      return 'it is not a directory';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EROFS':
      return 'read-only file system';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
