/**
 * One DICOM file -> stored samples per frame, and a frame as the 8-bit RgbImage the cascade
 * takes (pixels.ts says how intensities become 8 bits).
 */
import { SalipError } from '../../core/errors.js';
import { DEFAULT_MAX_PIXELS } from '../../core/image.js';
import type { RgbImage } from '../../core/types.js';
import { COMPRESSED_SYNTAXES, checkTransferSyntax, decodeFrame, type Samples } from './codecs.js';
import { parseDicom, type DicomGeometry, type DicomIdentity, type DicomPixelLayout, type DicomValueMapping, type ParsedDicom } from './parse.js';
import { colourTo8Bit, grayTo8Bit, modalityValues, type ValueWindow } from './pixels.js';

export interface ReadDicomOptions {
  /** Names the input in error messages (a file path); default "DICOM file". */
  name?: string;
  /** Which frame of a multi-frame object becomes `image` (default 0). */
  frame?: number;
  /** Refuse frames with more pixels than this (default DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
}

/** A DICOM image: one frame as 8-bit RGB, with what the file says about it. */
export interface DicomImage {
  readonly name: string;
  /** The chosen frame, 8-bit RGB (gray replicated). */
  readonly image: RgbImage;
  readonly frame: number;
  readonly frameCount: number;
  readonly layout: DicomPixelLayout;
  readonly mapping: DicomValueMapping;
  readonly geometry: DicomGeometry;
  readonly identity: DicomIdentity;
}

/** Decoded frames: stored samples, interleaved per pixel, in the file's depth and sign. */
export interface DicomFrames {
  readonly parsed: ParsedDicom;
  readonly frames: Samples[];
  /** What the samples are now: codecs that undo JPEG's colour transform give RGB. */
  readonly photometric: string;
}

/** Parses and checks a file up to the point where its pixels can be decoded. */
export function parseDicomImage(bytes: Uint8Array, options: Pick<ReadDicomOptions, 'name' | 'maxPixels'> = {}): ParsedDicom {
  const parsed = parseDicom(bytes, options.name ?? 'DICOM file');
  const { layout, name } = parsed;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (layout.rows * layout.columns > maxPixels) {
    throw new SalipError('INVALID_IMAGE', `${name}: ${layout.columns} x ${layout.rows} = ${layout.rows * layout.columns} pixels is more than the limit of ${maxPixels}`);
  }
  const photometric = layout.photometric;
  const known = ['MONOCHROME1', 'MONOCHROME2', 'RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_RCT', 'YBR_ICT'];
  if (!known.includes(photometric)) {
    throw new SalipError('UNSUPPORTED_FORMAT', `${name}: PhotometricInterpretation ${photometric} is not supported; expected one of ${known.join(', ')}`);
  }
  if ((layout.samplesPerPixel === 1) !== photometric.startsWith('MONOCHROME')) {
    throw new SalipError('INVALID_IMAGE', `${name}: ${layout.samplesPerPixel} sample(s) per pixel does not fit PhotometricInterpretation ${photometric}`);
  }
  checkTransferSyntax(parsed);
  return parsed;
}

/** Every frame's stored samples (or only `only`, when given). */
export async function decodeDicomFrames(bytes: Uint8Array, options: Pick<ReadDicomOptions, 'name' | 'maxPixels'> & { only?: number } = {}): Promise<DicomFrames> {
  const parsed = parseDicomImage(bytes, options);
  const indices = options.only !== undefined ? [checkFrame(parsed, options.only)] : [...Array(parsed.layout.frames).keys()];
  const frames: Samples[] = [];
  for (const index of indices) frames.push(await decodeFrame(parsed, index));
  return { parsed, frames, photometric: decodedPhotometric(parsed.layout) };
}

function checkFrame(parsed: ParsedDicom, frame: number): number {
  if (!Number.isInteger(frame) || frame < 0 || frame >= parsed.layout.frames) {
    throw new SalipError('INVALID_ARGUMENT', `${parsed.name}: frame ${frame} does not exist; expected 0..${parsed.layout.frames - 1}`);
  }
  return frame;
}

/** Photometric interpretation of decoded samples: JPEG and JPEG 2000 decoders return RGB. */
export function decodedPhotometric(layout: DicomPixelLayout): string {
  const codec = COMPRESSED_SYNTAXES[layout.transferSyntax]?.codec;
  if (layout.samplesPerPixel === 3 && (codec === 'jpeg-baseline' || codec === 'jpeg2000')) return 'RGB';
  return layout.photometric;
}

/** Reads one frame of a DICOM image as 8-bit RGB. */
export async function readDicom(bytes: Uint8Array, options: ReadDicomOptions = {}): Promise<DicomImage> {
  const frame = options.frame ?? 0;
  const { parsed, frames, photometric } = await decodeDicomFrames(bytes, { ...options, only: frame });
  return {
    name: parsed.name,
    image: frameTo8Bit(parsed, frames[0], photometric),
    frame,
    frameCount: parsed.layout.frames,
    layout: parsed.layout,
    mapping: parsed.mapping,
    geometry: parsed.geometry,
    identity: parsed.identity,
  };
}

/** One frame's samples as 8-bit RGB (gray: rescale, window or VOI LUT, MONOCHROME1 inverted). */
export function frameTo8Bit(parsed: Pick<ParsedDicom, 'layout' | 'mapping'>, samples: Samples, photometric: string, fallback?: ValueWindow): RgbImage {
  const { rows, columns, samplesPerPixel, bitsStored } = parsed.layout;
  if (samplesPerPixel === 3) return colourTo8Bit(columns, rows, samples, photometric, bitsStored);
  return grayTo8Bit(columns, rows, modalityValues(samples, parsed.mapping), parsed.mapping, photometric, fallback);
}
