/**
 * Masks -> a binary DICOM Segmentation (PS3.3 A.51) that references its source images, for a
 * single image or a series volume. salip builds the data set (one segment per class, algorithm
 * AUTOMATIC "salip", anatomic codes for the presets, one frame per slice per segment with its
 * source image and position); dcmjs encodes it (explicit VR little endian).
 */
import * as dcmjsModule from 'dcmjs';
import { SalipError } from '../../core/errors.js';
import type { DicomIdentity } from './parse.js';
import type { DicomImage } from './read.js';
import type { DicomVolume } from './series.js';

const dcmjs = ((dcmjsModule as unknown as { default?: typeof dcmjsModule }).default ?? dcmjsModule) as typeof dcmjsModule;

const SEG_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';
const EXPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** salip's implementation class UID (a fixed UUID-derived 2.25 UID). */
const IMPLEMENTATION_CLASS_UID = '2.25.167823514370218418452307466094736118915';

/** A code from a coding scheme (SCT = SNOMED CT, DCM = DICOM). */
export interface SegCode {
  readonly value: string;
  readonly scheme: string;
  readonly meaning: string;
}

export interface SegSegment {
  /** The segment's label (the class name). */
  readonly label: string;
  /** 0/1 per pixel, frame after frame in the source's order (rows x columns each). */
  readonly mask: Uint8Array;
  /** Category and type codes; default from SEGMENT_CODES by label, else a generic tissue code. */
  readonly category?: SegCode;
  readonly type?: SegCode;
}

/** What the SEG references: the source images, in frame order, and their common geometry. */
export interface SegSource {
  readonly identity: DicomIdentity;
  readonly rows: number;
  readonly columns: number;
  readonly slices: ReadonlyArray<{ readonly sopClassUid: string; readonly sopInstanceUid: string; readonly frame?: number; readonly position?: readonly number[] }>;
  readonly orientation?: readonly number[];
  /** [between rows, between columns, between slices] in mm. */
  readonly spacing?: readonly number[];
}

export interface WriteSegOptions {
  seriesDescription?: string;
  seriesNumber?: number;
  /** Software version recorded in the equipment module. */
  softwareVersion?: string;
}

const ANATOMICAL_STRUCTURE: SegCode = { value: '91723000', scheme: 'SCT', meaning: 'Anatomical Structure' };

/** Codes of the classes of salip's task presets. */
export const SEGMENT_CODES: Readonly<Record<string, { category: SegCode; type: SegCode }>> = {
  lungs: { category: ANATOMICAL_STRUCTURE, type: { value: '39607008', scheme: 'SCT', meaning: 'Lung' } },
  'fetal-head': { category: ANATOMICAL_STRUCTURE, type: { value: '69536005', scheme: 'SCT', meaning: 'Head' } },
  brain: { category: ANATOMICAL_STRUCTURE, type: { value: '12738006', scheme: 'SCT', meaning: 'Brain' } },
  heart: { category: ANATOMICAL_STRUCTURE, type: { value: '80891009', scheme: 'SCT', meaning: 'Heart' } },
};
const GENERIC_CODES = { category: { value: '85756007', scheme: 'SCT', meaning: 'Tissue' }, type: { value: '85756007', scheme: 'SCT', meaning: 'Tissue' } };

/** The SEG source of one DICOM image (a single frame). */
export function segSourceFromImage(image: DicomImage): SegSource {
  const position = image.geometry.positions?.[image.geometry.positions.length > 1 ? image.frame : 0];
  return {
    identity: image.identity,
    rows: image.layout.rows,
    columns: image.layout.columns,
    slices: [{ sopClassUid: image.identity.sopClassUid, sopInstanceUid: image.identity.sopInstanceUid, ...(image.frameCount > 1 ? { frame: image.frame } : {}), ...(position ? { position } : {}) }],
    ...(image.geometry.orientation ? { orientation: image.geometry.orientation } : {}),
    ...(image.geometry.pixelSpacing ? { spacing: [...image.geometry.pixelSpacing, image.geometry.sliceThickness ?? 1] } : {}),
  };
}

/** The SEG source of a series volume (one frame per slice, in z order). */
export function segSourceFromVolume(volume: DicomVolume): SegSource {
  return { identity: volume.source.identity, rows: volume.dims[1], columns: volume.dims[0], slices: volume.source.slices, orientation: volume.source.orientation, spacing: volume.source.spacing };
}

/** A new UID under 2.25 (PS3.5 B.2): a random (version 4) UUID as one decimal number. */
export function newUid(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return `2.25.${value.toString()}`;
}

/** Writes a binary DICOM Segmentation of `segments` over `source`; the bytes of a Part 10 file. */
export function writeDicomSeg(source: SegSource, segments: readonly SegSegment[], options: WriteSegOptions = {}): Uint8Array {
  checkSegments(source, segments);
  const now = new Date();
  const date = now.toISOString().slice(0, 10).replace(/-/g, '');
  const time = now.toISOString().slice(11, 19).replace(/:/g, '');
  const id = source.identity;
  const sopInstanceUid = newUid();
  const dimensionUid = newUid();
  const hasFrameOfReference = id.frameOfReferenceUid !== '' && source.orientation !== undefined && source.slices.every((s) => s.position !== undefined);
  const frameCount = segments.length * source.slices.length;
  const dataset: Record<string, unknown> = {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: SEG_SOP_CLASS,
    SOPInstanceUID: sopInstanceUid,
    ImageType: ['DERIVED', 'PRIMARY'],
    InstanceCreationDate: date,
    InstanceCreationTime: time,
    ContentDate: date,
    ContentTime: time,
    Modality: 'SEG',
    Manufacturer: 'salip',
    ManufacturerModelName: 'salip',
    DeviceSerialNumber: '1',
    SoftwareVersions: options.softwareVersion ?? 'salip',
    // Patient and study attributes are copied so the SEG files under the same patient and study.
    PatientName: id.patientName,
    PatientID: id.patientId,
    PatientBirthDate: id.patientBirthDate,
    PatientSex: id.patientSex,
    StudyInstanceUID: id.studyInstanceUid || newUid(),
    StudyDate: id.studyDate,
    StudyTime: id.studyTime,
    ReferringPhysicianName: id.referringPhysicianName,
    StudyID: id.studyId,
    AccessionNumber: id.accessionNumber,
    SeriesInstanceUID: newUid(),
    SeriesNumber: options.seriesNumber ?? 9001,
    SeriesDescription: options.seriesDescription ?? 'salip segmentation',
    InstanceNumber: 1,
    ContentLabel: 'SALIP',
    ContentDescription: 'salip zero-shot segmentation',
    ContentCreatorName: '',
    // Without a frame of reference the General Image module asks for PatientOrientation (type 2C).
    ...(hasFrameOfReference ? { FrameOfReferenceUID: id.frameOfReferenceUid, PositionReferenceIndicator: '' } : { PatientOrientation: '' }),
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: source.rows,
    Columns: source.columns,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    SegmentationType: 'BINARY',
    NumberOfFrames: frameCount,
    SegmentSequence: segments.map((s, i) => segmentItem(s, i + 1)),
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionUid }],
    DimensionIndexSequence: dimensionIndex(dimensionUid, hasFrameOfReference),
    SharedFunctionalGroupsSequence: [sharedGroups(source, hasFrameOfReference)],
    PerFrameFunctionalGroupsSequence: segments.flatMap((_, s) => source.slices.map((slice, z) => perFrameGroups(slice, s + 1, z + 1, hasFrameOfReference))),
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: id.seriesInstanceUid,
        ReferencedInstanceSequence: uniqueInstances(source).map((s) => ({ ReferencedSOPClassUID: s.sopClassUid, ReferencedSOPInstanceUID: s.sopInstanceUid })),
      },
    ],
    PixelData: [packBits(segments.map((s) => s.mask))],
    _vrMap: { PixelData: 'OB' },
  };
  try {
    const meta = {
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: SEG_SOP_CLASS,
      MediaStorageSOPInstanceUID: sopInstanceUid,
      TransferSyntaxUID: EXPLICIT_LITTLE_ENDIAN,
      ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
      ImplementationVersionName: 'salip',
    };
    const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
    dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
    return new Uint8Array(dict.write());
  } catch (cause) {
    throw new SalipError('OUTPUT_WRITE_FAILED', `DICOM SEG: dcmjs could not encode the segmentation (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
  }
}

function checkSegments(source: SegSource, segments: readonly SegSegment[]): void {
  if (!Array.isArray(segments) || segments.length === 0) throw new SalipError('INVALID_ARGUMENT', 'DICOM SEG: expected at least one segment');
  if (source.slices.length === 0) throw new SalipError('INVALID_ARGUMENT', 'DICOM SEG: the source has no images to reference');
  if (source.slices.some((s) => !s.sopInstanceUid || !s.sopClassUid)) {
    throw new SalipError('INVALID_ARGUMENT', 'DICOM SEG: every source image needs its SOPClassUID and SOPInstanceUID to be referenced; the input lacks them');
  }
  const expected = source.rows * source.columns * source.slices.length;
  for (const s of segments) {
    if (!(s.mask instanceof Uint8Array) || s.mask.length !== expected) {
      throw new SalipError('SIZE_MISMATCH', `DICOM SEG: segment '${s.label}' has ${s.mask?.length ?? 'no'} mask values, expected ${source.columns} x ${source.rows} x ${source.slices.length} = ${expected}`);
    }
  }
}

function codeItem(code: SegCode): Record<string, string> {
  return { CodeValue: code.value, CodingSchemeDesignator: code.scheme, CodeMeaning: code.meaning };
}

function segmentItem(segment: SegSegment, number: number): Record<string, unknown> {
  const preset = SEGMENT_CODES[segment.label] ?? GENERIC_CODES;
  return {
    SegmentNumber: number,
    SegmentLabel: segment.label.slice(0, 64),
    SegmentAlgorithmType: 'AUTOMATIC',
    SegmentAlgorithmName: 'salip',
    SegmentedPropertyCategoryCodeSequence: [codeItem(segment.category ?? preset.category)],
    SegmentedPropertyTypeCodeSequence: [codeItem(segment.type ?? preset.type)],
  };
}

function dimensionIndex(uid: string, withPosition: boolean): Array<Record<string, unknown>> {
  const bySegment = { DimensionOrganizationUID: uid, DimensionIndexPointer: '0062000B', FunctionalGroupPointer: '0062000A', DimensionDescriptionLabel: 'ReferencedSegmentNumber' };
  const byPosition = { DimensionOrganizationUID: uid, DimensionIndexPointer: '00200032', FunctionalGroupPointer: '00209113', DimensionDescriptionLabel: 'ImagePositionPatient' };
  return withPosition ? [bySegment, byPosition] : [bySegment];
}

function sharedGroups(source: SegSource, withGeometry: boolean): Record<string, unknown> {
  if (!withGeometry) return {};
  const [rowSpacing, columnSpacing, between] = source.spacing ?? [1, 1, 1];
  return {
    PixelMeasuresSequence: [{ PixelSpacing: [rowSpacing, columnSpacing], SliceThickness: between, SpacingBetweenSlices: between }],
    PlaneOrientationSequence: [{ ImageOrientationPatient: [...source.orientation!] }],
  };
}

function perFrameGroups(slice: SegSource['slices'][number], segment: number, index: number, withGeometry: boolean): Record<string, unknown> {
  const sourceImage: Record<string, unknown> = {
    ReferencedSOPClassUID: slice.sopClassUid,
    ReferencedSOPInstanceUID: slice.sopInstanceUid,
    ...(slice.frame !== undefined ? { ReferencedFrameNumber: slice.frame + 1 } : {}),
    PurposeOfReferenceCodeSequence: [codeItem({ value: '121322', scheme: 'DCM', meaning: 'Source image for image processing operation' })],
  };
  return {
    DerivationImageSequence: [
      { SourceImageSequence: [sourceImage], DerivationCodeSequence: [codeItem({ value: '113076', scheme: 'DCM', meaning: 'Segmentation' })] },
    ],
    FrameContentSequence: [{ DimensionIndexValues: withGeometry ? [segment, index] : [segment] }],
    ...(withGeometry ? { PlanePositionSequence: [{ ImagePositionPatient: [...slice.position!] }] } : {}),
    SegmentIdentificationSequence: [{ ReferencedSegmentNumber: segment }],
  };
}

function uniqueInstances(source: SegSource): SegSource['slices'] {
  const seen = new Set<string>();
  return source.slices.filter((s) => !seen.has(s.sopInstanceUid) && seen.add(s.sopInstanceUid) !== undefined);
}

/** All frames' pixels, one bit each, least significant bit first, padded to an even length. */
function packBits(masks: readonly Uint8Array[]): ArrayBuffer {
  const total = masks.reduce((n, m) => n + m.length, 0);
  const bytes = new Uint8Array(Math.ceil(Math.ceil(total / 8) / 2) * 2);
  let bit = 0;
  for (const mask of masks) {
    for (let i = 0; i < mask.length; i++, bit++) if (mask[i] !== 0) bytes[bit >> 3] |= 1 << (bit & 7);
  }
  return bytes.buffer;
}
