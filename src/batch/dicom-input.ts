/**
 * DICOM in the CLI: salip/dicom is loaded with a dynamic import only when an input is DICOM, so
 * PNG/NIfTI runs never need its optional packages; when they are missing the error names them.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { SalipError } from '../core/errors.js';
import type { RgbImage } from '../core/types.js';
import { listImageFiles, readFileBytes, readImageFile } from '../backends/node-files.js';
import { hasDicomMagic, isDicomInput } from '../io/dicom/detect.js';
import type { ParsedDicom } from '../io/dicom/parse.js';
import type { DicomVolume } from '../io/dicom/series.js';
import type { SegmentVolumeOptions } from '../pipeline/volume.js';

type DicomModule = typeof import('../dicom.js');

const DICOM_PACKAGES = 'dicom-parser dcmjs';

/** The salip/dicom module, or MISSING_DEPENDENCY naming the packages to install. */
export async function loadDicomModule(): Promise<DicomModule> {
  try {
    return await import('../dicom.js');
  } catch (cause) {
    const missing = /dicom-parser|dcmjs|fflate/.exec(String((cause as Error)?.message ?? cause))?.[0];
    throw new SalipError('MISSING_DEPENDENCY', `DICOM input needs the optional package${missing ? ` ${missing}` : `s ${DICOM_PACKAGES}`}; install with: npm install ${DICOM_PACKAGES}`, {
      cause,
      details: { packages: DICOM_PACKAGES.split(' ') },
    });
  }
}

/** The first 132 bytes of a file (enough for the DICM magic), or empty when unreadable. */
async function fileHead(path: string): Promise<Uint8Array> {
  let handle;
  try {
    handle = await fs.open(path, 'r');
    const head = new Uint8Array(132);
    const { bytesRead } = await handle.read(head, 0, 132, 0);
    return head.subarray(0, bytesRead);
  } catch {
    return new Uint8Array(0);
  } finally {
    await handle?.close();
  }
}

/** Is this path a DICOM file (magic bytes or extension)? */
export async function isDicomFile(path: string): Promise<boolean> {
  return isDicomInput(path, await fileHead(path));
}

/** Is this path a folder (taken as one DICOM series)? */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The DICOM files of a series folder (hidden files and non-DICOM files skipped), sorted by name. */
export async function listDicomFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch((cause) => {
    throw new SalipError('FILE_NOT_FOUND', `DICOM folder ${dir}: cannot be read (${(cause as Error).message})`, { cause });
  });
  const names = entries.filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => e.name).sort();
  const files: string[] = [];
  for (const name of names) if (hasDicomMagic(await fileHead(join(dir, name)))) files.push(join(dir, name));
  return files;
}

/** Reads a series folder as a volume. */
export async function readDicomSeriesFolder(dir: string) {
  const dicom = await loadDicomModule();
  const files = await listDicomFiles(dir);
  if (files.length === 0) throw new SalipError('INVALID_ARGUMENT', `DICOM folder ${dir}: zero slices (no file with the DICM magic at byte 128)`);
  return dicom.readDicomSeries(await Promise.all(files.map(async (name) => ({ name, bytes: await readFileBytes(name, 'DICOM file') }))));
}

/**
 * A DICOM file for `segment`: a multi-frame object with a position per frame (enhanced CT/MR) is
 * a volume; anything else is an image (its first frame).
 */
export async function readDicomFileInput(path: string) {
  const dicom = await loadDicomModule();
  const bytes = await readFileBytes(path, 'DICOM file');
  if (isVolumeObject(dicom.parseDicom(bytes, path))) return { volume: await dicom.readDicomSeries([{ name: path, bytes }]) };
  return { image: await dicom.readDicom(bytes, { name: path }) };
}

/** Multi-frame with a position per frame: the one rule for "this DICOM file is a volume". */
function isVolumeObject(parsed: ParsedDicom): boolean {
  return parsed.layout.frames > 1 && parsed.geometry.positions?.length === parsed.layout.frames;
}

/** Is this DICOM file a volume (see readDicomFileInput)? Parses it without decoding pixels; throws typed errors. */
export async function isDicomVolumeFile(path: string): Promise<boolean> {
  const dicom = await loadDicomModule();
  return isVolumeObject(dicom.parseDicom(await readFileBytes(path, 'DICOM file'), path));
}

/**
 * segmentVolume's options for a DICOM volume: rows run as the file stores them (row 0 at the
 * top, as viewers show it; NIfTI slices are flipped instead), and the file's window when given.
 */
export function dicomVolumeOptions(volume: DicomVolume): Pick<SegmentVolumeOptions, 'orientation' | 'window'> {
  return { orientation: {}, ...(volume.window ? { window: volume.window } : {}) };
}

/** Reads one DICOM image file (first frame). */
export async function readDicomFile(path: string) {
  const dicom = await loadDicomModule();
  return dicom.readDicom(await readFileBytes(path, 'DICOM file'), { name: path });
}

/** A PNG, JPEG or DICOM image file as 8-bit RGB (DICOM by magic bytes or extension). */
export async function readAnyImageFile(path: string): Promise<RgbImage> {
  return (await isDicomFile(path)) ? (await readDicomFile(path)).image : readImageFile(path);
}

/** The images of a folder: PNG/JPEG plus DICOM files, sorted by name. */
export async function listAnyImageFiles(dir: string): Promise<string[]> {
  const images = await listImageFiles(dir);
  const dicom = (await isDirectory(dir)) ? await listDicomFiles(dir) : [];
  return [...images, ...dicom.filter((f) => !images.includes(f))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The mask for image `name`: the same file name, or for a DICOM image the same stem with .png. */
export function maskNameFor(name: string): string[] {
  const stem = name.replace(/\.(dcm|dicom|dic)$/i, '');
  return stem === name ? [name] : [name, `${stem}.png`];
}
