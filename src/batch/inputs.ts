/**
 * What a batch reads: the command line's INPUTS (files, folders walked recursively, or list
 * files with one path a line) expanded into inputs with a kind and a path relative to where
 * they came from, which becomes the output's path under --out.
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SalipError } from '../core/errors.js';
import { isDicomInput } from '../io/dicom/detect.js';
import { isDicomVolumeFile } from './dicom-input.js';

/**
 * What an input holds; decides how it is segmented and what its mask file is. A DICOM file is
 * 'dicom' (an image, mask PNG) until its header shows a multi-frame volume: 'dicom-volume'.
 */
export type InputKind = 'image' | 'volume' | 'dicom' | 'dicom-volume';

/** One input of a batch. */
export interface BatchInput {
  /** Absolute path. */
  readonly path: string;
  /** Path relative to the folder or list it came from (the file name for a file argument). */
  readonly relative: string;
  /** Undefined when neither the name nor the first bytes say what the file is (fails alone). */
  readonly kind: InputKind | undefined;
}

/** Files whose name ends so are list files: one input path a line (# starts a comment). */
export const LIST_EXTENSIONS = ['.txt', '.list'];

/**
 * The kind of a file by its name, else by its first bytes (PNG and JPEG signatures, the NIfTI-1
 * magic at byte 344, DICOM's DICM at byte 128). The one place that knows input formats.
 */
export function inputKindOf(path: string, head?: Uint8Array): InputKind | undefined {
  const lower = path.toLowerCase();
  if (/\.(png|jpe?g)$/.test(lower)) return 'image';
  if (/\.nii(\.gz)?$/.test(lower)) return 'volume';
  if (isDicomInput(path, head)) return 'dicom';
  if (!head) return undefined;
  if (head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47) return 'image';
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'image';
  const magic = String.fromCharCode(...head.subarray(344, 348));
  if (magic === 'n+1\0' || magic === 'ni1\0') return 'volume';
  return undefined;
}

/** Where an input's mask goes under `outDir`: PNG for images, gzipped NIfTI for volumes. */
export function outputPathFor(input: BatchInput, outDir: string): string {
  const stem = input.relative.replace(/\.nii\.gz$/i, '').replace(/\.[^./\\]*$/, '');
  return join(outDir, isVolumeKind(input.kind) ? `${stem}.nii.gz` : `${stem}.png`);
}

/** Kinds segmented slice by slice into a NIfTI mask. */
export function isVolumeKind(kind: InputKind | undefined): boolean {
  return kind === 'volume' || kind === 'dicom-volume';
}

/**
 * Expands the INPUTS arguments: a folder gives every image or volume under it (hidden entries
 * and `skip`, the output folder, left out), a list file gives its lines (relative to the list's
 * folder), any other file is itself. Duplicates are dropped; the order is stable.
 */
export async function expandInputs(args: readonly string[], skip?: string): Promise<BatchInput[]> {
  const skipDir = skip === undefined ? undefined : resolve(skip);
  const inputs: BatchInput[] = [];
  for (const arg of args) {
    const path = resolve(arg);
    const stats = await statOrThrow(path, arg);
    if (stats.isDirectory()) inputs.push(...(await walkFolder(path, skipDir)));
    else if (LIST_EXTENSIONS.some((e) => path.toLowerCase().endsWith(e))) inputs.push(...(await readListFile(path)));
    else inputs.push({ path, relative: basename(path), kind: inputKindOf(path, await readHead(path)) });
  }
  const seen = new Set<string>();
  return Promise.all(inputs.filter((i) => !seen.has(i.path) && seen.add(i.path)).map(withDicomVolumeKind));
}

/**
 * A DICOM input whose header says multi-frame volume becomes 'dicom-volume' (its mask is NIfTI).
 * A file that cannot be read keeps 'dicom': processing it fails that input alone with its code.
 */
async function withDicomVolumeKind(input: BatchInput): Promise<BatchInput> {
  if (input.kind !== 'dicom') return input;
  const volume = await isDicomVolumeFile(input.path).catch(() => false);
  return volume ? { ...input, kind: 'dicom-volume' } : input;
}

/** Refuses two inputs whose masks would land on the same output file. */
export function checkDistinctOutputs(inputs: readonly BatchInput[], outDir: string): void {
  const owners = new Map<string, string>();
  for (const input of inputs) {
    const out = outputPathFor(input, outDir);
    const other = owners.get(out);
    if (other !== undefined) {
      throw new SalipError('INVALID_ARGUMENT', `inputs ${other} and ${input.path} would both write ${out}; give them from their common folder or rename one`, {
        details: { output: out, inputs: [other, input.path] },
      });
    }
    owners.set(out, input.path);
  }
}

/** SHA-256 of a file's bytes, streamed (volumes can be large). */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function walkFolder(root: string, skipDir: string | undefined): Promise<BatchInput[]> {
  const found: BatchInput[] = [];
  const visit = async (dir: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (path !== skipDir) await visit(path);
        continue;
      }
      // Files without an extension (PACS exports name DICOM files so) are judged by their bytes.
      const kind = inputKindOf(path, entry.name.includes('.') ? undefined : await readHead(path));
      if (kind && (entry.isFile() || entry.isSymbolicLink())) found.push({ path, relative: relative(root, path), kind });
    }
  };
  await visit(root);
  return found;
}

async function readListFile(listPath: string): Promise<BatchInput[]> {
  const base = dirname(listPath);
  const text = await fs.readFile(listPath, 'utf8');
  const inputs: BatchInput[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const path = isAbsolute(line) ? line : resolve(base, line);
    // Inside the list's folder the layout is kept; elsewhere the file name is all there is.
    const rel = path.startsWith(base + sep) ? relative(base, path) : basename(path);
    inputs.push({ path, relative: rel, kind: inputKindOf(path, await readHead(path)) });
  }
  return inputs;
}

/** The first 352 bytes of a file (enough for every signature above); empty when unreadable or a folder. */
async function readHead(path: string): Promise<Uint8Array> {
  if (inputKindOf(path)) return new Uint8Array(0);
  try {
    const handle = await fs.open(path, 'r');
    try {
      const buffer = new Uint8Array(352);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch {
    return new Uint8Array(0);
  }
}

async function statOrThrow(path: string, arg: string) {
  try {
    return await fs.stat(path);
  } catch (cause) {
    throw new SalipError('FILE_NOT_FOUND', `input ${arg} does not exist`, { cause, details: { path } });
  }
}
