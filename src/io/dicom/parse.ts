/**
 * DICOM bytes -> the attributes salip needs (pixel layout, value mapping, geometry, the UIDs a
 * Segmentation must reference), parsed by dicom-parser. Deflated files are inflated with fflate
 * (dicom-parser's own fallback reaches for node:zlib, which browsers lack).
 */
import * as dicomParserModule from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { inflateSync } from 'fflate';
import { SalipError } from '../../core/errors.js';
import { hasDicomMagic } from './detect.js';

// dicom-parser is a UMD bundle: Node's ESM loader exposes it as the default export.
const dicomParser = ((dicomParserModule as unknown as { default?: typeof dicomParserModule }).default ?? dicomParserModule) as typeof dicomParserModule;

export const IMPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2';
export const EXPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const DEFLATED_LITTLE_ENDIAN = '1.2.840.10008.1.2.1.99';
export const EXPLICIT_BIG_ENDIAN = '1.2.840.10008.1.2.2';

/** How stored pixel samples are laid out. */
export interface DicomPixelLayout {
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: number;
  /** PhotometricInterpretation: MONOCHROME1, MONOCHROME2, RGB, YBR_FULL, YBR_FULL_422, PALETTE COLOR, ... */
  readonly photometric: string;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  readonly highBit: number;
  /** 0 unsigned, 1 two's complement. */
  readonly pixelRepresentation: number;
  /** 0 samples interleaved per pixel, 1 one plane per sample. */
  readonly planarConfiguration: number;
  readonly frames: number;
  readonly transferSyntax: string;
}

/** A VOI LUT: `data[i]` is the output for stored value `firstMapped + i` (clamped outside). */
export interface DicomVoiLut {
  readonly firstMapped: number;
  readonly data: readonly number[];
}

/** How stored values become display values. */
export interface DicomValueMapping {
  readonly rescaleSlope: number;
  readonly rescaleIntercept: number;
  /** First WindowCenter / WindowWidth values, when present. */
  readonly windowCenter?: number;
  readonly windowWidth?: number;
  /** First item of the VOI LUT Sequence, when present (takes precedence over the window). */
  readonly voiLut?: DicomVoiLut;
}

/** Where the image sits in the patient (DICOM LPS millimetres). */
export interface DicomGeometry {
  /** ImagePositionPatient of the first frame (or of each frame of a multi-frame object). */
  readonly positions?: ReadonlyArray<readonly [number, number, number]>;
  /** ImageOrientationPatient: row direction then column direction. */
  readonly orientation?: readonly [number, number, number, number, number, number];
  /** PixelSpacing: [between rows, between columns]. */
  readonly pixelSpacing?: readonly [number, number];
  readonly sliceThickness?: number;
  readonly spacingBetweenSlices?: number;
  readonly instanceNumber?: number;
}

/** Identifying attributes, copied into derived objects (SEG). Empty strings when absent. */
export interface DicomIdentity {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly frameOfReferenceUid: string;
  readonly modality: string;
  readonly patientName: string;
  readonly patientId: string;
  readonly patientBirthDate: string;
  readonly patientSex: string;
  readonly studyDate: string;
  readonly studyTime: string;
  readonly studyId: string;
  readonly accessionNumber: string;
  readonly referringPhysicianName: string;
  readonly seriesNumber?: number;
}

export interface ParsedDicom {
  readonly name: string;
  readonly layout: DicomPixelLayout;
  readonly mapping: DicomValueMapping;
  readonly geometry: DicomGeometry;
  readonly identity: DicomIdentity;
  /** dicom-parser's data set, for the pixel data element. */
  readonly dataSet: DataSet;
  readonly pixelData: Element;
}

const PIXEL_DATA = 'x7fe00010';

/** Parses a DICOM file (Part 10, or a bare little-endian data set without meta header). */
export function parseDicom(bytes: Uint8Array, name = 'DICOM file'): ParsedDicom {
  if (!(bytes instanceof Uint8Array)) throw new SalipError('INVALID_ARGUMENT', `${name}: expected the file's bytes as a Uint8Array`);
  const dataSet = parseDataSet(bytes, name);
  const pixelData = dataSet.elements[PIXEL_DATA] ?? dataSet.elements.x7fe00008 ?? dataSet.elements.x7fe00009;
  if (pixelData === undefined) {
    throw new SalipError('INVALID_IMAGE', `${name}: has no Pixel Data (7FE0,0010); expected an image object, not e.g. a structured report or an RT plan`, {
      details: { name, sopClassUid: dataSet.string('x00080016') },
    });
  }
  if (pixelData.tag !== PIXEL_DATA) {
    throw new SalipError('UNSUPPORTED_FORMAT', `${name}: float pixel data (${pixelData.tag}) is not supported; expected integer Pixel Data (7FE0,0010)`);
  }
  return {
    name,
    layout: pixelLayout(dataSet, name),
    mapping: valueMapping(dataSet),
    geometry: geometryOf(dataSet),
    identity: identityOf(dataSet),
    dataSet,
    pixelData,
  };
}

function parseDataSet(bytes: Uint8Array, name: string): DataSet {
  const options = { inflater: inflateDeflated };
  const part10 = hasDicomMagic(bytes);
  const bare = !part10 ? bareTransferSyntax(bytes) : undefined;
  if (!part10 && bare === undefined) {
    const head = Array.from(bytes.subarray(128, 132), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new SalipError('DECODE_FAILED', `${name}: not a DICOM file: expected "DICM" at byte 128 (found [${head}]) or a data set starting with group 0008`, {
      details: { name },
    });
  }
  try {
    return dicomParser.parseDicom(bytes, bare === undefined ? options : { ...options, TransferSyntaxUID: bare });
  } catch (cause) {
    // dicom-parser throws a string or an Error; with a partly read data set it attaches that too.
    const reason = typeof cause === 'string' ? cause : cause instanceof Error ? cause.message : (cause as { exception?: string })?.exception ?? String(cause);
    const truncated = /past end|beyond|end of buffer|truncated|exceeds/i.test(reason);
    throw new SalipError('DECODE_FAILED', `${name}: could not be parsed as DICOM (${reason})${truncated ? '; the file ends early, is it truncated?' : ''}`, {
      cause,
      details: { name },
    });
  }
}

/**
 * A file without preamble and meta header (older exports): a data set starting with an (0008,xxxx)
 * element, implicit or explicit little endian, told apart by two VR letters after the tag.
 */
function bareTransferSyntax(bytes: Uint8Array): string | undefined {
  if (bytes.length < 8 || bytes[0] !== 0x08 || bytes[1] !== 0x00) return undefined;
  const isLetter = (b: number) => b >= 0x41 && b <= 0x5a;
  return isLetter(bytes[4]) && isLetter(bytes[5]) ? EXPLICIT_LITTLE_ENDIAN : IMPLICIT_LITTLE_ENDIAN;
}

/** dicom-parser's inflater contract: the bytes up to `position` followed by the inflated rest. */
function inflateDeflated(bytes: Uint8Array, position: number): Uint8Array {
  const inflated = inflateSync(bytes.subarray(position));
  const out = new Uint8Array(position + inflated.length);
  out.set(bytes.subarray(0, position));
  out.set(inflated, position);
  return out;
}

function pixelLayout(ds: DataSet, name: string): DicomPixelLayout {
  const required = (tag: string, what: string): number => {
    const v = ds.uint16(tag);
    if (v === undefined) throw new SalipError('INVALID_IMAGE', `${name}: ${what} (${tag.slice(1, 5)},${tag.slice(5)}) is missing; an image needs it`);
    return v;
  };
  const rows = required('x00280010', 'Rows');
  const columns = required('x00280011', 'Columns');
  const bitsAllocated = required('x00280100', 'BitsAllocated');
  const samplesPerPixel = ds.uint16('x00280002') ?? 1;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const transferSyntax = (ds.string('x00020010') ?? IMPLICIT_LITTLE_ENDIAN).replace(/\0/g, '').trim();
  const layout: DicomPixelLayout = {
    rows,
    columns,
    samplesPerPixel,
    photometric: (ds.string('x00280004') ?? (samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2')).trim().toUpperCase(),
    bitsAllocated,
    bitsStored,
    highBit: ds.uint16('x00280102') ?? bitsStored - 1,
    pixelRepresentation: ds.uint16('x00280103') ?? 0,
    planarConfiguration: ds.uint16('x00280006') ?? 0,
    frames: Math.max(1, ds.intString('x00280008') ?? 1),
    transferSyntax,
  };
  checkLayout(layout, name);
  return layout;
}

function checkLayout(l: DicomPixelLayout, name: string): void {
  const problems: string[] = [];
  if (l.rows < 1 || l.columns < 1) problems.push(`Rows x Columns is ${l.rows} x ${l.columns}`);
  if (![1, 8, 16, 32].includes(l.bitsAllocated)) problems.push(`BitsAllocated is ${l.bitsAllocated} (expected 1, 8, 16 or 32)`);
  if (l.bitsStored < 1 || l.bitsStored > l.bitsAllocated) problems.push(`BitsStored ${l.bitsStored} does not fit BitsAllocated ${l.bitsAllocated}`);
  if (l.samplesPerPixel !== 1 && l.samplesPerPixel !== 3) problems.push(`SamplesPerPixel is ${l.samplesPerPixel} (expected 1 or 3)`);
  if (problems.length > 0) throw new SalipError('INVALID_IMAGE', `${name}: inconsistent image attributes: ${problems.join('; ')}`, { details: { name } });
}

function valueMapping(ds: DataSet): DicomValueMapping {
  const slope = ds.floatString('x00281053');
  const intercept = ds.floatString('x00281052');
  const center = ds.floatString('x00281050');
  const width = ds.floatString('x00281051');
  const hasWindow = Number.isFinite(center) && Number.isFinite(width) && (width as number) > 0;
  return {
    rescaleSlope: Number.isFinite(slope) && slope !== 0 ? (slope as number) : 1,
    rescaleIntercept: Number.isFinite(intercept) ? (intercept as number) : 0,
    ...(hasWindow ? { windowCenter: center, windowWidth: width } : {}),
    ...voiLutOf(ds),
  };
}

function voiLutOf(ds: DataSet): { voiLut?: DicomVoiLut } {
  const item = ds.elements.x00283010?.items?.[0]?.dataSet;
  const lutData = item?.elements.x00283006;
  if (!item || !lutData) return {};
  // LUTDescriptor: entries (0 means 65536), first stored value mapped (US or SS), bits per entry.
  const entries = item.uint16('x00283002', 0) || 65536;
  const descriptor = item.elements.x00283002;
  const firstMapped = descriptor?.vr === 'SS' ? (item.int16('x00283002', 1) ?? 0) : (item.uint16('x00283002', 1) ?? 0);
  const bits = item.uint16('x00283002', 2) ?? 16;
  const data: number[] = [];
  for (let i = 0; i < entries; i++) {
    const value = bits <= 8 && lutData.length === entries ? item.byteArray[lutData.dataOffset + i] : item.uint16('x00283006', i);
    if (value === undefined) return {};
    data.push(value);
  }
  return { voiLut: { firstMapped, data } };
}

function numbers(ds: DataSet, tag: string, count: number): number[] | undefined {
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    const v = ds.floatString(tag, i);
    if (v === undefined || !Number.isFinite(v)) return undefined;
    values.push(v);
  }
  return values;
}

function geometryOf(ds: DataSet): DicomGeometry {
  // Enhanced (multi-frame) objects keep geometry in functional groups; classic ones at top level.
  const shared = ds.elements.x52009229?.items?.[0]?.dataSet;
  const perFrame = ds.elements.x52009230?.items ?? [];
  const inGroup = (group: DataSet | undefined, sequence: string): DataSet | undefined => group?.elements[sequence]?.items?.[0]?.dataSet;
  const pick = (tag: string, count: number, sequence: string): number[] | undefined =>
    numbers(ds, tag, count) ?? (inGroup(shared, sequence) && numbers(inGroup(shared, sequence)!, tag, count)) ?? (inGroup(perFrame[0]?.dataSet, sequence) && numbers(inGroup(perFrame[0]?.dataSet, sequence)!, tag, count));
  const framePositions = perFrame.map((f) => inGroup(f.dataSet, 'x00209113')).map((p) => (p ? numbers(p, 'x00200032', 3) : undefined));
  const position = numbers(ds, 'x00200032', 3);
  const positions = framePositions.length > 0 && framePositions.every((p) => p !== undefined) ? framePositions : position ? [position] : undefined;
  const orientation = pick('x00200037', 6, 'x00209116');
  const spacing = pick('x00280030', 2, 'x00289110');
  const thickness = pick('x00180050', 1, 'x00289110');
  const between = pick('x00180088', 1, 'x00289110');
  return {
    ...(positions ? { positions: positions as Array<[number, number, number]> } : {}),
    ...(orientation ? { orientation: orientation as [number, number, number, number, number, number] } : {}),
    ...(spacing ? { pixelSpacing: spacing as [number, number] } : {}),
    ...(thickness ? { sliceThickness: thickness[0] } : {}),
    ...(between ? { spacingBetweenSlices: between[0] } : {}),
    ...(ds.intString('x00200013') !== undefined ? { instanceNumber: ds.intString('x00200013') } : {}),
  };
}

function identityOf(ds: DataSet): DicomIdentity {
  const text = (tag: string) => (ds.string(tag) ?? '').replace(/\0/g, '').trim();
  return {
    sopClassUid: text('x00080016'),
    sopInstanceUid: text('x00080018'),
    studyInstanceUid: text('x0020000d'),
    seriesInstanceUid: text('x0020000e'),
    frameOfReferenceUid: text('x00200052'),
    modality: text('x00080060'),
    patientName: text('x00100010'),
    patientId: text('x00100020'),
    patientBirthDate: text('x00100030'),
    patientSex: text('x00100040'),
    studyDate: text('x00080020'),
    studyTime: text('x00080030'),
    studyId: text('x00200010'),
    accessionNumber: text('x00080050'),
    referringPhysicianName: text('x00080090'),
    ...(ds.intString('x00200011') !== undefined ? { seriesNumber: ds.intString('x00200011') } : {}),
  };
}

/** The bytes of frame `index` of native (uncompressed) pixel data; DECODE_FAILED when cut short. */
export function nativeFrameBytes(parsed: ParsedDicom, index: number): Uint8Array {
  const { layout, pixelData, dataSet, name } = parsed;
  const bits = layout.rows * layout.columns * storedSamplesPerPixel(layout) * layout.bitsAllocated;
  const frameBytes = layout.bitsAllocated === 1 ? Math.ceil(bits / 8) : bits / 8;
  const start = pixelData.dataOffset + index * frameBytes;
  const available = Math.min(pixelData.length, dataSet.byteArray.length - pixelData.dataOffset);
  if ((index + 1) * frameBytes > available) {
    throw new SalipError(
      'DECODE_FAILED',
      `${name}: Pixel Data holds ${available} bytes, but ${layout.frames} frame(s) of ${layout.rows} x ${layout.columns} x ${layout.samplesPerPixel} samples at ${layout.bitsAllocated} bits need ${layout.frames * frameBytes}; truncated or inconsistent Rows/Columns?`,
      { details: { name } },
    );
  }
  return dataSet.byteArray.subarray(start, start + frameBytes);
}

/** Samples stored per pixel in native data: YBR_FULL_422 keeps one Cb and Cr per pair of pixels. */
export function storedSamplesPerPixel(layout: DicomPixelLayout): number {
  return layout.samplesPerPixel === 3 && layout.photometric === 'YBR_FULL_422' ? 2 : layout.samplesPerPixel;
}

/** The compressed bytes of frame `index` of encapsulated pixel data. */
export function encapsulatedFrameBytes(parsed: ParsedDicom, index: number): Uint8Array {
  const { dataSet, pixelData, layout, name } = parsed;
  const fragments = pixelData.fragments ?? [];
  if (fragments.length === 0) throw new SalipError('DECODE_FAILED', `${name}: encapsulated Pixel Data has no fragments`);
  try {
    if ((pixelData.basicOffsetTable?.length ?? 0) > 0) return dicomParser.readEncapsulatedImageFrame(dataSet, pixelData, index);
    // Without an offset table: one fragment per frame, or (single frame) all fragments together.
    if (layout.frames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, pixelData, 0, fragments.length);
    if (fragments.length === layout.frames) return dicomParser.readEncapsulatedPixelDataFromFragments(dataSet, pixelData, index, 1);
    const table = dicomParser.createJPEGBasicOffsetTable(dataSet, pixelData);
    return dicomParser.readEncapsulatedImageFrame(dataSet, pixelData, index, table);
  } catch (cause) {
    const reason = typeof cause === 'string' ? cause : cause instanceof Error ? cause.message : String(cause);
    throw new SalipError('DECODE_FAILED', `${name}: could not read frame ${index} of the encapsulated Pixel Data (${reason})`, { cause });
  }
}
