/**
 * NIfTI-1 volumes as plain data: read (plain or gzip-compressed single-file .nii) and write a
 * binary mask with the geometry of a reference volume. Pure bytes in and out, no fs and no
 * node:zlib, so this runs in browsers too; gzip output is delegated to a caller-supplied function.
 */
import { NIFTI1, decompress } from 'nifti-reader-js';
import { SalipError } from '../core/errors.js';

/** A 3-D scalar volume read from NIfTI-1. */
export interface NiftiVolume {
  /** Voxel counts [nx, ny, nz] (nz = 1 for a 2-D file). */
  readonly dims: [number, number, number];
  /** Voxel spacing [dx, dy, dz] as stored in pixdim[1..3] (units per xyzt_units, usually mm). */
  readonly pixdim: [number, number, number];
  /** The stored datatype before scaling: 'uint8', 'int16', 'float32', ... */
  readonly datatype: string;
  /** Voxel values with scl_slope / scl_inter applied, x fastest: data[x + nx * (y + ny * z)]. */
  readonly data: Float32Array;
  /** 4x4 voxel-to-world matrix: sform when sform_code > 0, else qform when qform_code > 0, else diag(pixdim). */
  readonly affine: number[][];
  /** The raw 348-byte NIfTI-1 header, kept so masks can be written with the same geometry. */
  readonly header: Uint8Array;
}

export interface ReadNiftiOptions {
  /** Name of the input for error messages (file name); default "NIfTI volume". */
  name?: string;
}

export interface WriteNiftiMaskOptions {
  /**
   * Compresses the finished .nii bytes (e.g. Node's zlib.gzipSync) to produce .nii.gz. Injected
   * rather than imported so this module stays browser-safe and synchronous.
   */
  gzip?: (bytes: Uint8Array) => Uint8Array;
}

const HEADER_SIZE = 348;
const PLATFORM_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Header plus the 4-byte extension flag: where voxel data starts in a file we write. */
const WRITE_VOX_OFFSET = 352;

interface DatatypeInfo {
  readonly name: string;
  readonly bytes: number;
  readonly read: (view: DataView, offset: number, littleEndian: boolean) => number;
  /** Typed-array view used when the file's byte order matches the platform's (the fast path). */
  readonly array: new (buffer: ArrayBuffer) => ArrayLike<number>;
}

const SUPPORTED_DATATYPES: ReadonlyMap<number, DatatypeInfo> = new Map<number, DatatypeInfo>([
  [2, { name: 'uint8', bytes: 1, read: (v, o) => v.getUint8(o), array: Uint8Array }],
  [256, { name: 'int8', bytes: 1, read: (v, o) => v.getInt8(o), array: Int8Array }],
  [4, { name: 'int16', bytes: 2, read: (v, o, le) => v.getInt16(o, le), array: Int16Array }],
  [512, { name: 'uint16', bytes: 2, read: (v, o, le) => v.getUint16(o, le), array: Uint16Array }],
  [8, { name: 'int32', bytes: 4, read: (v, o, le) => v.getInt32(o, le), array: Int32Array }],
  [768, { name: 'uint32', bytes: 4, read: (v, o, le) => v.getUint32(o, le), array: Uint32Array }],
  [16, { name: 'float32', bytes: 4, read: (v, o, le) => v.getFloat32(o, le), array: Float32Array }],
  [64, { name: 'float64', bytes: 8, read: (v, o, le) => v.getFloat64(o, le), array: Float64Array }],
]);

const UNSUPPORTED_DATATYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'RGB24',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

/** Reads a single-file NIfTI-1 volume (.nii or .nii.gz bytes) into a Float32 volume. */
export function readNifti(bytes: Uint8Array, options: ReadNiftiOptions = {}): NiftiVolume {
  const name = options.name ?? 'NIfTI volume';
  const raw = isGzip(bytes) ? inflate(bytes, name) : bytes;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  checkHeader(view, name);

  const header = new NIFTI1();
  try {
    header.readHeader(raw.buffer.slice(raw.byteOffset, raw.byteOffset + Math.min(raw.byteLength, WRITE_VOX_OFFSET)) as ArrayBuffer);
  } catch (cause) {
    throw new SalipError('DECODE_FAILED', `${name}: not a readable NIfTI-1 header`, { cause });
  }
  const littleEndian = header.littleEndian;
  const dims = volumeDims(header.dims, name);
  const type = SUPPORTED_DATATYPES.get(header.datatypeCode);
  if (!type) {
    const typeName = UNSUPPORTED_DATATYPE_NAMES[header.datatypeCode] ?? `code ${header.datatypeCode}`;
    throw new SalipError(
      'UNSUPPORTED_FORMAT',
      `${name}: NIfTI datatype ${typeName} is not supported; expected a scalar type (uint8, int8, int16, uint16, int32, uint32, float32, float64)`,
      { details: { datatypeCode: header.datatypeCode } },
    );
  }

  const voxOffset = Math.round(header.vox_offset);
  const voxelCount = dims[0] * dims[1] * dims[2];
  const needed = voxOffset + voxelCount * type.bytes;
  if (voxOffset < HEADER_SIZE || raw.byteLength < needed) {
    throw new SalipError(
      'DECODE_FAILED',
      `${name}: truncated NIfTI: expected ${voxelCount * type.bytes} bytes of voxel data from offset ${voxOffset}, found ${Math.max(0, raw.byteLength - voxOffset)}`,
    );
  }

  const data = new Float32Array(voxelCount);
  const slope = header.scl_slope;
  // NIfTI-1: scl_slope == 0 (or non-finite) means "no scaling", not "multiply by zero".
  const scaled = Number.isFinite(slope) && slope !== 0 && !(slope === 1 && header.scl_inter === 0);
  const intercept = Number.isFinite(header.scl_inter) ? header.scl_inter : 0;
  if (littleEndian === PLATFORM_LITTLE_ENDIAN) {
    // Copying the voxel bytes gives an aligned buffer, whatever vox_offset was.
    const values = new type.array(raw.slice(voxOffset, needed).buffer as ArrayBuffer);
    for (let i = 0; i < voxelCount; i++) data[i] = scaled ? values[i] * slope + intercept : values[i];
  } else {
    for (let i = 0, offset = voxOffset; i < voxelCount; i++, offset += type.bytes) {
      const value = type.read(view, offset, littleEndian);
      data[i] = scaled ? value * slope + intercept : value;
    }
  }

  return {
    dims,
    pixdim: [header.pixDims[1], header.pixDims[2], header.pixDims[3]],
    datatype: type.name,
    data,
    affine: affineOf(view, header, littleEndian),
    header: raw.slice(0, HEADER_SIZE),
  };
}

/**
 * Writes a uint8 NIfTI-1 single file (.nii, vox_offset 352) holding `mask` (nx*ny*nz values, x
 * fastest; any non-zero value is written as 1) with the reference's dims, pixdim, qform, sform,
 * units and endianness. Gzip-compressed when options.gzip is given.
 */
export function writeNiftiMask(reference: NiftiVolume, mask: Uint8Array, options: WriteNiftiMaskOptions = {}): Uint8Array {
  const [nx, ny, nz] = reference.dims;
  const voxelCount = nx * ny * nz;
  if (!(mask instanceof Uint8Array) || mask.length !== voxelCount) {
    throw new SalipError(
      'SIZE_MISMATCH',
      `NIfTI mask: expected a Uint8Array of ${nx}x${ny}x${nz} = ${voxelCount} voxels, got ${mask instanceof Uint8Array ? mask.length : typeof mask}`,
    );
  }
  if (!(reference.header instanceof Uint8Array) || reference.header.length < HEADER_SIZE) {
    throw new SalipError('INVALID_ARGUMENT', `NIfTI reference: expected the 348-byte header of a volume from readNifti, got ${reference.header?.length ?? 'none'} bytes`);
  }

  const out = new Uint8Array(WRITE_VOX_OFFSET + voxelCount);
  out.set(reference.header.subarray(0, HEADER_SIZE));
  const view = new DataView(out.buffer);
  const littleEndian = view.getInt32(0, true) === HEADER_SIZE;
  if (!littleEndian && view.getInt32(0, false) !== HEADER_SIZE) {
    throw new SalipError('INVALID_ARGUMENT', 'NIfTI reference: header does not start with sizeof_hdr = 348');
  }

  const dim = [3, nx, ny, nz, 1, 1, 1, 1];
  dim.forEach((value, i) => view.setInt16(40 + 2 * i, value, littleEndian));
  view.setFloat32(56, 0, littleEndian); // intent_p1..p3 and intent_code: a mask has no statistical intent
  view.setFloat32(60, 0, littleEndian);
  view.setFloat32(64, 0, littleEndian);
  view.setInt16(68, 0, littleEndian);
  view.setInt16(70, 2, littleEndian); // datatype uint8
  view.setInt16(72, 8, littleEndian); // bitpix
  view.setFloat32(108, WRITE_VOX_OFFSET, littleEndian);
  view.setFloat32(112, 1, littleEndian); // scl_slope
  view.setFloat32(116, 0, littleEndian); // scl_inter
  view.setFloat32(124, 1, littleEndian); // cal_max
  view.setFloat32(128, 0, littleEndian); // cal_min
  writeAscii(out, 148, 80, 'salip mask');
  writeAscii(out, 328, 16, ''); // intent_name
  writeAscii(out, 344, 4, 'n+1'); // single file, even when the reference was a .hdr/.img pair
  // Bytes 348..351 stay 0: no extensions.

  for (let i = 0; i < voxelCount; i++) out[WRITE_VOX_OFFSET + i] = mask[i] !== 0 ? 1 : 0;
  return options.gzip ? options.gzip(out) : out;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function inflate(bytes: Uint8Array, name: string): Uint8Array {
  try {
    const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    return new Uint8Array(decompress(copy));
  } catch (cause) {
    throw new SalipError('DECODE_FAILED', `${name}: gzip data is corrupt or truncated (${errorMessage(cause)})`, { cause });
  }
}

function checkHeader(view: DataView, name: string): void {
  if (view.byteLength < HEADER_SIZE) {
    throw new SalipError('DECODE_FAILED', `${name}: not NIfTI: expected at least ${HEADER_SIZE} header bytes, found ${view.byteLength}`);
  }
  const sizeLe = view.getInt32(0, true);
  const sizeBe = view.getInt32(0, false);
  if (sizeLe === 540 || sizeBe === 540) {
    throw new SalipError('UNSUPPORTED_FORMAT', `${name}: NIfTI-2 is not supported; convert it to NIfTI-1`);
  }
  if (sizeLe !== HEADER_SIZE && sizeBe !== HEADER_SIZE) {
    throw new SalipError('DECODE_FAILED', `${name}: not NIfTI: expected sizeof_hdr 348, found ${sizeLe}`);
  }
  const magic = String.fromCharCode(view.getUint8(344), view.getUint8(345), view.getUint8(346));
  if (magic === 'ni1') {
    throw new SalipError('UNSUPPORTED_FORMAT', `${name}: NIfTI .hdr/.img pairs are not supported; convert to a single .nii file`);
  }
  if (magic !== 'n+1') {
    throw new SalipError('DECODE_FAILED', `${name}: not NIfTI-1: expected magic "n+1", found ${JSON.stringify(magic)} (Analyze 7.5 files are not supported)`);
  }
}

function volumeDims(dim: number[], name: string): [number, number, number] {
  const rank = dim[0];
  if (!Number.isInteger(rank) || rank < 1 || rank > 7) {
    throw new SalipError('DECODE_FAILED', `${name}: invalid NIfTI header: dim[0] must be 1..7, found ${rank}`);
  }
  const size = (axis: number): number => (axis <= rank ? dim[axis] : 1);
  for (let axis = 1; axis <= rank; axis++) {
    if (!(size(axis) >= 1)) {
      throw new SalipError('DECODE_FAILED', `${name}: invalid NIfTI header: dim[${axis}] must be >= 1, found ${size(axis)}`);
    }
  }
  if (size(4) > 1) {
    throw new SalipError('UNSUPPORTED_FORMAT', `${name}: 4-D NIfTI with ${size(4)} volumes is not supported; extract one volume`, {
      details: { volumes: size(4) },
    });
  }
  for (let axis = 5; axis <= 7; axis++) {
    if (size(axis) > 1) {
      throw new SalipError('UNSUPPORTED_FORMAT', `${name}: NIfTI with ${size(axis)} components along dim[${axis}] is not supported; expected a scalar 3-D volume`);
    }
  }
  return [size(1), size(2), size(3)];
}

function affineOf(view: DataView, header: NIFTI1, littleEndian: boolean): number[][] {
  // + 0 turns the -0 that products with negative factors give into 0.
  return rawAffine(view, header, littleEndian).map((row) => row.map((v) => v + 0));
}

function rawAffine(view: DataView, header: NIFTI1, littleEndian: boolean): number[][] {
  if (header.sform_code > 0) {
    const rows: number[][] = [];
    for (let r = 0; r < 3; r++) {
      const row: number[] = [];
      for (let c = 0; c < 4; c++) row.push(view.getFloat32(280 + (r * 4 + c) * 4, littleEndian));
      rows.push(row);
    }
    rows.push([0, 0, 0, 1]);
    return rows;
  }
  const [dx, dy, dz] = [header.pixDims[1], header.pixDims[2], header.pixDims[3]];
  if (header.qform_code > 0) {
    const b = header.quatern_b;
    const c = header.quatern_c;
    const d = header.quatern_d;
    const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
    // nifti1.h: qfac is -1 only when pixdim[0] is negative; any other value means +1.
    const qfac = header.pixDims[0] < 0 ? -1 : 1;
    const r = [
      [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
      [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
      [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - b * b - c * c],
    ];
    const offsets = [header.qoffset_x, header.qoffset_y, header.qoffset_z];
    return [
      ...r.map((row, i) => [row[0] * dx, row[1] * dy, row[2] * dz * qfac, offsets[i]]),
      [0, 0, 0, 1],
    ];
  }
  return [
    [dx, 0, 0, 0],
    [0, dy, 0, 0],
    [0, 0, dz, 0],
    [0, 0, 0, 1],
  ];
}

function writeAscii(target: Uint8Array, offset: number, length: number, text: string): void {
  target.fill(0, offset, offset + length);
  for (let i = 0; i < Math.min(text.length, length - 1); i++) target[offset + i] = text.charCodeAt(i) & 0x7f;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A NiftiVolume for voxels that did not come from a NIfTI file (e.g. a DICOM series): a float32
 * NIfTI-1 header whose sform (code 1, scanner) is `affine` (RAS millimetres, voxel -> world), so
 * writeNiftiMask gives masks with that geometry.
 */
export function niftiVolumeFromAffine(dims: [number, number, number], data: Float32Array, affine: number[][]): NiftiVolume {
  const header = new Uint8Array(HEADER_SIZE);
  const view = new DataView(header.buffer);
  const le = true;
  const pixdim = [0, 1, 2].map((c) => Math.hypot(affine[0][c], affine[1][c], affine[2][c])) as [number, number, number];
  view.setInt32(0, HEADER_SIZE, le);
  [3, dims[0], dims[1], dims[2], 1, 1, 1, 1].forEach((v, i) => view.setInt16(40 + 2 * i, v, le));
  view.setInt16(70, 16, le); // datatype float32
  view.setInt16(72, 32, le); // bitpix
  [1, ...pixdim, 1, 1, 1, 1].forEach((v, i) => view.setFloat32(76 + 4 * i, v, le));
  view.setFloat32(108, WRITE_VOX_OFFSET, le);
  view.setFloat32(112, 1, le); // scl_slope
  header[123] = 2 | 8; // xyzt_units: mm, s
  view.setInt16(254, 1, le); // sform_code: scanner-based
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) view.setFloat32(280 + (r * 4 + c) * 4, affine[r][c], le);
  writeAscii(header, 344, 4, 'n+1');
  return { dims, pixdim, datatype: 'float32', data, affine: affine.map((row) => row.map((v) => v + 0)), header };
}
