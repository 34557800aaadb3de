/**
 * A DICOM series (single-frame files, or one multi-frame object with per-frame positions) as a
 * NIfTI-style volume: slices sorted along the slice normal (then InstanceNumber), voxels x =
 * column, y = row, z = slice, and the voxel -> RAS world affine built from ImagePositionPatient,
 * ImageOrientationPatient and PixelSpacing, so segmentVolume and writeNiftiMask work on it and
 * its masks line up with NIfTI conversions of the same series.
 */
import { SalipError } from '../../core/errors.js';
import { niftiVolumeFromAffine, type NiftiVolume } from '../nifti.js';
import { decodeFrame } from './codecs.js';
import type { DicomIdentity, ParsedDicom } from './parse.js';
import { modalityValues, windowFromCenterWidth, type ValueWindow } from './pixels.js';
import { parseDicomImage } from './read.js';

type Vec3 = readonly [number, number, number];

/** What a SEG needs to reference the series it was made from. */
export interface DicomSeriesSource {
  readonly identity: DicomIdentity;
  /** One entry per slice, in volume z order: the image (and frame) it came from. */
  readonly slices: ReadonlyArray<{ readonly sopClassUid: string; readonly sopInstanceUid: string; readonly frame?: number; readonly position?: Vec3 }>;
  /** ImageOrientationPatient shared by all slices (identity when the files have none). */
  readonly orientation: readonly [number, number, number, number, number, number];
  /** PixelSpacing [between rows, between columns] and the distance between slices, in mm. */
  readonly spacing: readonly [number, number, number];
}

/** A series volume: a NiftiVolume (data = modality values) plus where it came from. */
export interface DicomVolume extends NiftiVolume {
  readonly source: DicomSeriesSource;
  /** The first slice's WindowCenter/Width as a window, when present (else use the range). */
  readonly window?: ValueWindow;
}

export interface DicomFileBytes {
  readonly name: string;
  readonly bytes: Uint8Array;
}

interface SliceEntry {
  readonly parsed: ParsedDicom;
  readonly frame: number;
  readonly position?: Vec3;
}

const ORIENTATION_TOLERANCE = 1e-3;
/** Relative difference between slice gaps above which the series is refused (a slice is missing). */
const GAP_TOLERANCE = 0.05;

/** Reads the files of one series into a volume. */
export async function readDicomSeries(files: readonly DicomFileBytes[]): Promise<DicomVolume> {
  if (!Array.isArray(files) || files.length === 0) {
    throw new SalipError('INVALID_ARGUMENT', 'DICOM series: expected at least one file, got zero slices');
  }
  const parsed = files.map((f) => parseDicomImage(f.bytes, { name: f.name }));
  checkOneSeries(parsed);
  const entries = sortSlices(parsed.flatMap(sliceEntries));
  const first = entries[0].parsed;
  const { rows, columns } = first.layout;
  const orientation = first.geometry.orientation ?? [1, 0, 0, 0, 1, 0];
  const pixelSpacing = first.geometry.pixelSpacing ?? [1, 1];
  const sliceStep = sliceVector(entries, orientation, first);
  const data = new Float32Array(columns * rows * entries.length);
  for (const [z, entry] of entries.entries()) {
    const samples = await decodeFrame(entry.parsed, entry.frame);
    data.set(modalityValues(samples, entry.parsed.mapping), z * rows * columns);
  }
  const origin = entries[0].position ?? [0, 0, 0];
  const affine = rasAffine(orientation, pixelSpacing, sliceStep, origin);
  const { windowCenter, windowWidth } = first.mapping;
  const volume = niftiVolumeFromAffine([columns, rows, entries.length], data, affine);
  return {
    ...volume,
    source: {
      identity: first.identity,
      slices: entries.map((e) => ({
        sopClassUid: e.parsed.identity.sopClassUid,
        sopInstanceUid: e.parsed.identity.sopInstanceUid,
        ...(e.parsed.layout.frames > 1 ? { frame: e.frame } : {}),
        ...(e.position ? { position: e.position } : {}),
      })),
      orientation,
      spacing: [pixelSpacing[0], pixelSpacing[1], Math.hypot(...sliceStep)],
    },
    ...(windowCenter !== undefined && windowWidth !== undefined ? { window: windowFromCenterWidth(windowCenter, windowWidth) } : {}),
  };
}

/** Mixed series or image sizes in one folder would stack unrelated pixels: refuse them by name. */
function checkOneSeries(parsed: readonly ParsedDicom[]): void {
  const first = parsed[0];
  for (const p of parsed.slice(1)) {
    if (p.identity.seriesInstanceUid !== first.identity.seriesInstanceUid) {
      throw new SalipError('INVALID_ARGUMENT', `DICOM series: ${p.name} belongs to series ${p.identity.seriesInstanceUid || '(none)'}, ${first.name} to ${first.identity.seriesInstanceUid || '(none)'}; expected the files of one series (put each series in its own folder)`, {
        details: { files: [first.name, p.name] },
      });
    }
    if (p.layout.rows !== first.layout.rows || p.layout.columns !== first.layout.columns || p.layout.samplesPerPixel !== first.layout.samplesPerPixel) {
      throw new SalipError('SIZE_MISMATCH', `DICOM series: ${p.name} is ${p.layout.columns} x ${p.layout.rows} x ${p.layout.samplesPerPixel}, ${first.name} is ${first.layout.columns} x ${first.layout.rows} x ${first.layout.samplesPerPixel}; expected one image size`);
    }
    const a = first.geometry.orientation;
    const b = p.geometry.orientation;
    if (a && b && a.some((v, i) => Math.abs(v - b[i]) > ORIENTATION_TOLERANCE)) {
      throw new SalipError('INVALID_ARGUMENT', `DICOM series: ${p.name} has ImageOrientationPatient [${b.join(', ')}], ${first.name} [${a.join(', ')}]; expected parallel slices`);
    }
  }
  if (first.layout.samplesPerPixel !== 1) {
    throw new SalipError('UNSUPPORTED_FORMAT', `DICOM series: ${first.name} has ${first.layout.samplesPerPixel} samples per pixel; volumes are read from gray images only`);
  }
}

function sliceEntries(parsed: ParsedDicom): SliceEntry[] {
  const positions = parsed.geometry.positions ?? [];
  return Array.from({ length: parsed.layout.frames }, (_, frame) => ({ parsed, frame, position: positions.length === parsed.layout.frames ? positions[frame] : undefined }));
}

/** The slice normal: row direction x column direction. */
function normalOf(o: readonly number[]): Vec3 {
  return [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]];
}

const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

/** Sorted by position along the normal, then InstanceNumber, then frame number. */
function sortSlices(entries: SliceEntry[]): SliceEntry[] {
  const normal = normalOf(entries[0].parsed.geometry.orientation ?? [1, 0, 0, 0, 1, 0]);
  const along = (e: SliceEntry) => (e.position ? dot(e.position, normal) : 0);
  return [...entries].sort((a, b) => along(a) - along(b) || (a.parsed.geometry.instanceNumber ?? 0) - (b.parsed.geometry.instanceNumber ?? 0) || a.frame - b.frame);
}

/** The step from one slice's origin to the next (LPS mm); refuses duplicate or uneven positions. */
function sliceVector(entries: readonly SliceEntry[], orientation: readonly number[], first: ParsedDicom): Vec3 {
  const normal = normalOf(orientation);
  if (entries.length === 1 || entries.some((e) => e.position === undefined)) {
    const step = first.geometry.spacingBetweenSlices ?? first.geometry.sliceThickness ?? 1;
    return [normal[0] * step, normal[1] * step, normal[2] * step];
  }
  const positions = entries.map((e) => e.position!);
  const gaps = positions.slice(1).map((p, i) => dot(p, normal) - dot(positions[i], normal));
  const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
  const worst = gaps.reduce((w, g) => Math.max(w, Math.abs(g - mean)), 0);
  if (!(mean > 1e-6) || worst > GAP_TOLERANCE * mean) {
    const duplicate = gaps.findIndex((g) => Math.abs(g) <= 1e-6);
    const where = duplicate >= 0 ? `${entries[duplicate].parsed.name} and ${entries[duplicate + 1].parsed.name} are at the same position` : `gaps range from ${Math.min(...gaps).toFixed(3)} to ${Math.max(...gaps).toFixed(3)} mm`;
    throw new SalipError('INVALID_IMAGE', `DICOM series: slices are not evenly spaced along the slice normal (${where}); expected one slice per position, none missing`);
  }
  const last = positions[positions.length - 1];
  const n = positions.length - 1;
  return [(last[0] - positions[0][0]) / n, (last[1] - positions[0][1]) / n, (last[2] - positions[0][2]) / n];
}

/**
 * Voxel (column, row, slice) -> RAS world: DICOM's LPS affine (columns along the row direction
 * at the column spacing, rows along the column direction at the row spacing) with x and y negated.
 */
export function rasAffine(orientation: readonly number[], pixelSpacing: readonly number[], sliceStep: Vec3, origin: Vec3): number[][] {
  const [rowSpacing, columnSpacing] = pixelSpacing;
  const lps = [0, 1, 2].map((r) => [orientation[r] * columnSpacing, orientation[3 + r] * rowSpacing, sliceStep[r], origin[r]]);
  return [lps[0].map((v) => -v + 0), lps[1].map((v) => -v + 0), lps[2].map((v) => v + 0), [0, 0, 0, 1]];
}
