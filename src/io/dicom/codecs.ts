/**
 * One frame of pixel data -> stored samples, interleaved per pixel, at the file's depth and sign.
 * Native data is read in place (byte order per transfer syntax); compressed syntaxes go to
 * maintained pure-JS codecs, loaded on first use so that uncompressed files never pay for them:
 * JPEG baseline (jpeg-js), JPEG lossless (jpeg-lossless-decoder-js), JPEG-LS (@cornerstonejs/
 * codec-charls, asm.js build) and JPEG 2000 (@cornerstonejs/codec-openjpeg, asm.js build). RLE
 * Lossless is the DICOM-defined PackBits variant (PS3.5 Annex G), a dozen lines, decoded here.
 * Anything else is UNSUPPORTED_TRANSFER_SYNTAX naming the UID.
 */
import jpeg from 'jpeg-js';
import { SalipError } from '../../core/errors.js';
import { expandYbr422 } from './pixels.js';
import { DEFLATED_LITTLE_ENDIAN, EXPLICIT_BIG_ENDIAN, EXPLICIT_LITTLE_ENDIAN, IMPLICIT_LITTLE_ENDIAN, encapsulatedFrameBytes, nativeFrameBytes, storedSamplesPerPixel, type DicomPixelLayout, type ParsedDicom } from './parse.js';

export type Samples = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

type Codec = 'rle' | 'jpeg-baseline' | 'jpeg-lossless' | 'jpeg-ls' | 'jpeg2000';

/** Compressed transfer syntaxes salip decodes, by UID. */
export const COMPRESSED_SYNTAXES: Readonly<Record<string, { name: string; codec: Codec }>> = {
  '1.2.840.10008.1.2.5': { name: 'RLE Lossless', codec: 'rle' },
  '1.2.840.10008.1.2.4.50': { name: 'JPEG Baseline (Process 1)', codec: 'jpeg-baseline' },
  '1.2.840.10008.1.2.4.51': { name: 'JPEG Extended (Process 2 & 4), 8-bit only', codec: 'jpeg-baseline' },
  '1.2.840.10008.1.2.4.57': { name: 'JPEG Lossless (Process 14)', codec: 'jpeg-lossless' },
  '1.2.840.10008.1.2.4.70': { name: 'JPEG Lossless SV1', codec: 'jpeg-lossless' },
  '1.2.840.10008.1.2.4.80': { name: 'JPEG-LS Lossless', codec: 'jpeg-ls' },
  '1.2.840.10008.1.2.4.81': { name: 'JPEG-LS Near-Lossless', codec: 'jpeg-ls' },
  '1.2.840.10008.1.2.4.90': { name: 'JPEG 2000 Lossless', codec: 'jpeg2000' },
  '1.2.840.10008.1.2.4.91': { name: 'JPEG 2000', codec: 'jpeg2000' },
};

const NATIVE_SYNTAXES = new Set([IMPLICIT_LITTLE_ENDIAN, EXPLICIT_LITTLE_ENDIAN, DEFLATED_LITTLE_ENDIAN, EXPLICIT_BIG_ENDIAN]);

/** Refuses a transfer syntax no codec here decodes, before any frame is touched. */
export function checkTransferSyntax(parsed: ParsedDicom): void {
  const uid = parsed.layout.transferSyntax;
  if (NATIVE_SYNTAXES.has(uid) || uid in COMPRESSED_SYNTAXES) return;
  throw unsupportedSyntax(parsed.name, uid, 'no maintained pure-JS or wasm decoder is bundled for it');
}

function unsupportedSyntax(name: string, uid: string, why: string): SalipError {
  const known = [...NATIVE_SYNTAXES, ...Object.keys(COMPRESSED_SYNTAXES)].join(', ');
  return new SalipError('UNSUPPORTED_TRANSFER_SYNTAX', `${name}: transfer syntax ${uid} is not supported (${why}); supported: ${known}`, {
    details: { name, transferSyntax: uid },
  });
}

/** The stored samples of frame `index`, interleaved (R G B R G B ... for colour). */
export async function decodeFrame(parsed: ParsedDicom, index: number): Promise<Samples> {
  checkTransferSyntax(parsed);
  const { layout } = parsed;
  const compressed = COMPRESSED_SYNTAXES[layout.transferSyntax];
  if (compressed === undefined) {
    const bigEndian = layout.transferSyntax === EXPLICIT_BIG_ENDIAN;
    const bytes = nativeFrameBytes(parsed, index);
    if (storedSamplesPerPixel(layout) !== layout.samplesPerPixel) {
      if (layout.bitsAllocated !== 8) throw new SalipError('UNSUPPORTED_FORMAT', `${parsed.name}: YBR_FULL_422 with ${layout.bitsAllocated}-bit samples is not supported; expected 8-bit`);
      return expandYbr422(bytes, layout.columns, layout.rows);
    }
    return nativeSamples(bytes, layout, bigEndian, parsed.pixelData.vr === 'OW');
  }
  const bytes = encapsulatedFrameBytes(parsed, index);
  let samples: Samples;
  try {
    samples = await decodeCompressed(compressed.codec, bytes, layout, parsed.name);
  } catch (cause) {
    if (cause instanceof SalipError) throw cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new SalipError('DECODE_FAILED', `${parsed.name}: frame ${index} could not be decoded as ${compressed.name} (${reason})`, { cause });
  }
  const expected = layout.rows * layout.columns * layout.samplesPerPixel;
  if (samples.length === 0) throw new SalipError('DECODE_FAILED', `${parsed.name}: frame ${index}: the ${compressed.name} decoder produced no image (damaged or unusual code stream)`);
  if (samples.length !== expected) {
    throw new SalipError('DECODE_FAILED', `${parsed.name}: frame ${index} decoded to ${samples.length} samples, expected ${layout.rows} x ${layout.columns} x ${layout.samplesPerPixel} = ${expected}; inconsistent Rows/Columns?`);
  }
  return signed(samples, layout);
}

/** Native samples with the stored bits masked (and sign-extended) and planes interleaved. */
function nativeSamples(bytes: Uint8Array, layout: DicomPixelLayout, bigEndian: boolean, wordVr: boolean): Samples {
  const count = layout.rows * layout.columns * layout.samplesPerPixel;
  let samples: Samples;
  if (layout.bitsAllocated === 1) {
    samples = new Uint8Array(count);
    for (let i = 0; i < count; i++) samples[i] = (bytes[i >> 3] >> (i & 7)) & 1;
  } else if (layout.bitsAllocated === 8) {
    // OW in big endian swaps byte pairs even for 8-bit samples (PS3.5 8.1.1).
    samples = bigEndian && wordVr ? swapPairs(bytes).subarray(0, count) : bytes.slice(0, count);
  } else {
    const width = layout.bitsAllocated / 8;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    samples = width === 2 ? new Uint16Array(count) : new Uint32Array(count);
    for (let i = 0; i < count; i++) samples[i] = width === 2 ? view.getUint16(i * 2, !bigEndian) : view.getUint32(i * 4, !bigEndian);
  }
  const interleaved = layout.planarConfiguration === 1 && layout.samplesPerPixel === 3 ? interleavePlanes(samples, layout.rows * layout.columns) : samples;
  return signed(maskStoredBits(interleaved, layout), layout);
}

function swapPairs(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    out[i] = bytes[i + 1];
    out[i + 1] = bytes[i];
  }
  return out;
}

/** Keeps bits highBit-bitsStored+1 .. highBit (other bits may hold overlays or garbage). */
function maskStoredBits(samples: Samples, layout: DicomPixelLayout): Samples {
  if (layout.bitsStored >= layout.bitsAllocated || layout.bitsAllocated === 1) return samples;
  const shift = layout.highBit + 1 - layout.bitsStored;
  const mask = 2 ** layout.bitsStored - 1;
  for (let i = 0; i < samples.length; i++) samples[i] = Math.floor(samples[i] / 2 ** shift) & mask;
  return samples;
}

/** Two's complement of BitsStored bits when PixelRepresentation is 1, as a signed array. */
function signed(samples: Samples, layout: DicomPixelLayout): Samples {
  if (layout.pixelRepresentation !== 1 || layout.bitsAllocated === 1) return samples;
  const bits = layout.bitsStored;
  const out = samples.BYTES_PER_ELEMENT === 1 ? new Int8Array(samples.length) : samples.BYTES_PER_ELEMENT === 2 ? new Int16Array(samples.length) : new Int32Array(samples.length);
  const half = 2 ** (bits - 1);
  const full = 2 ** bits;
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i] < 0 ? samples[i] + full : samples[i] % full;
    out[i] = v >= half ? v - full : v;
  }
  return out;
}

function interleavePlanes<T extends Samples>(planar: T, pixels: number): T {
  const out = new (planar.constructor as new (n: number) => T)(planar.length);
  for (let p = 0; p < pixels; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = planar[c * pixels + p];
  return out;
}

async function decodeCompressed(codec: Codec, bytes: Uint8Array, layout: DicomPixelLayout, name: string): Promise<Samples> {
  switch (codec) {
    case 'rle':
      return decodeRle(bytes, layout, name);
    case 'jpeg-baseline':
      return decodeJpegBaseline(bytes, layout, name);
    case 'jpeg-lossless':
      return decodeJpegLossless(bytes, layout);
    case 'jpeg-ls':
      return decodeWithEmscripten(await loadCodec('@cornerstonejs/codec-charls', () => import('@cornerstonejs/codec-charls/decode')), 'JpegLSDecoder', bytes);
    case 'jpeg2000':
      return decodeWithEmscripten(await loadCodec('@cornerstonejs/codec-openjpeg', () => import('@cornerstonejs/codec-openjpeg/decode')), 'J2KDecoder', bytes);
  }
}

/** RLE Lossless: a 64-byte header of segment offsets, one PackBits segment per byte plane. */
function decodeRle(bytes: Uint8Array, layout: DicomPixelLayout, name: string): Samples {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pixels = layout.rows * layout.columns;
  const bytesPerSample = layout.bitsAllocated / 8;
  const segmentCount = bytes.length >= 64 ? view.getUint32(0, true) : 0;
  if (segmentCount !== bytesPerSample * layout.samplesPerPixel) {
    throw new SalipError('DECODE_FAILED', `${name}: RLE header has ${segmentCount} segments, expected ${bytesPerSample * layout.samplesPerPixel} for ${layout.samplesPerPixel} sample(s) of ${layout.bitsAllocated} bits`);
  }
  const out = new Uint8Array(pixels * segmentCount);
  for (let s = 0; s < segmentCount; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segmentCount ? view.getUint32(8 + 4 * s, true) : bytes.length;
    const sample = Math.floor(s / bytesPerSample);
    // Segments run most significant byte first; samples are stored little endian below.
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    unpackBits(bytes.subarray(start, end), pixels, (p, v) => {
      out[(p * layout.samplesPerPixel + sample) * bytesPerSample + byteInSample] = v;
    });
  }
  if (bytesPerSample === 1) return out;
  return bytesPerSample === 2 ? new Uint16Array(out.buffer) : new Uint32Array(out.buffer);
}

function unpackBits(segment: Uint8Array, length: number, put: (index: number, value: number) => void): void {
  let at = 0;
  let written = 0;
  while (at < segment.length && written < length) {
    const header = segment[at++];
    if (header < 128) {
      for (let i = 0; i <= header && written < length && at < segment.length; i++) put(written++, segment[at++]);
    } else if (header > 128) {
      const value = segment[at++];
      for (let i = 0; i < 257 - header && written < length; i++) put(written++, value);
    }
  }
  if (written < length) throw new Error(`an RLE segment ends after ${written} of ${length} bytes`);
}

function decodeJpegBaseline(bytes: Uint8Array, layout: DicomPixelLayout, name: string): Samples {
  const precision = jpegPrecision(bytes);
  if (precision !== 8) {
    throw new SalipError('UNSUPPORTED_TRANSFER_SYNTAX', `${name}: ${precision}-bit JPEG Extended (1.2.840.10008.1.2.4.51) is not supported: no maintained pure-JS decoder handles 12-bit lossy JPEG; expected 8-bit JPEG`, {
      details: { name, transferSyntax: layout.transferSyntax },
    });
  }
  // DICOM's "RGB" says the components were not transformed to YCbCr; the JFIF default would.
  const colorTransform = layout.samplesPerPixel === 3 ? !layout.photometric.startsWith('RGB') : undefined;
  const decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, colorTransform, maxResolutionInMP: 400, maxMemoryUsageInMB: 2048 });
  if (layout.samplesPerPixel === 3) return decoded.data;
  // jpeg-js expands gray to three equal channels.
  const gray = new Uint8Array(decoded.width * decoded.height);
  for (let i = 0; i < gray.length; i++) gray[i] = decoded.data[i * 3];
  return gray;
}

/** Sample precision from the first SOF marker (8 when none is found; jpeg-js then reports the problem). */
function jpegPrecision(bytes: Uint8Array): number {
  for (let at = 2; at + 4 < bytes.length; ) {
    if (bytes[at] !== 0xff) return 8;
    const marker = bytes[at + 1];
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return bytes[at + 4];
    at += 2 + ((bytes[at + 2] << 8) | bytes[at + 3]);
  }
  return 8;
}

async function decodeJpegLossless(bytes: Uint8Array, layout: DicomPixelLayout): Promise<Samples> {
  const { Decoder } = await loadCodec('jpeg-lossless-decoder-js', () => import('jpeg-lossless-decoder-js'));
  const copy = bytes.slice();
  const decoded = new Decoder().decode(copy.buffer as ArrayBuffer, 0, copy.length, Math.ceil(layout.bitsAllocated / 8)) as unknown as Samples;
  return decoded;
}

interface EmscriptenDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
  delete(): void;
}
type EmscriptenCodec = Record<string, new () => EmscriptenDecoder>;
type CodecFactory = (options?: object) => Promise<unknown>;

const codecInstances = new Map<string, Promise<unknown>>();

/** Runs one of cornerstone's emscripten decoders (one module instance per codec, reused). */
async function decodeWithEmscripten(factoryModule: { default?: CodecFactory } | CodecFactory, className: string, bytes: Uint8Array): Promise<Samples> {
  const factory = (typeof factoryModule === 'function' ? factoryModule : factoryModule.default) as CodecFactory;
  let instance = codecInstances.get(className);
  if (!instance) {
    // OpenJPEG logs every tile header to stdout; the outcome is reported through our errors.
    instance = factory({ print: () => undefined, printErr: () => undefined });
    codecInstances.set(className, instance);
  }
  const codec = (await instance) as EmscriptenCodec;
  const decoder = new codec[className]();
  try {
    decoder.getEncodedBuffer(bytes.length).set(bytes);
    decoder.decode();
    const info = decoder.getFrameInfo();
    const decoded = decoder.getDecodedBuffer();
    // The decoded buffer lives in the codec's heap: copy it out before the decoder is freed.
    const copy = decoded.slice();
    return info.bitsPerSample > 8 ? new Uint16Array(copy.buffer, 0, copy.length / 2) : copy;
  } finally {
    decoder.delete();
  }
}

/** Imports an optional codec package, or MISSING_DEPENDENCY naming it. */
async function loadCodec<T>(packageName: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (cause) {
    throw new SalipError('MISSING_DEPENDENCY', `this transfer syntax needs the optional package ${packageName}; install it with: npm install ${packageName}`, {
      cause,
      details: { package: packageName },
    });
  }
}
