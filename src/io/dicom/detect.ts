/**
 * Is this input DICOM? Dependency-free, so the CLI (segment, eval, batch) can route inputs
 * without loading the DICOM entry point and its optional packages.
 */

/** Extensions DICOM files commonly carry; files without one are recognised by their bytes. */
const DICOM_EXTENSIONS = ['.dcm', '.dicom', '.dic'];

/** True when `bytes` hold a DICOM Part 10 file: "DICM" after the 128-byte preamble. */
export function hasDicomMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/** True when the file name ends in a DICOM extension (.dcm, .dicom, .dic; any case). */
export function hasDicomExtension(path: string): boolean {
  const lower = path.toLowerCase();
  return DICOM_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/**
 * The one test for "treat this input as DICOM": the magic bytes when the file's first 132 bytes
 * are given (so extension-less files from a PACS export are found), else the extension.
 */
export function isDicomInput(path: string, head?: Uint8Array): boolean {
  if (head !== undefined && hasDicomMagic(head)) return true;
  return hasDicomExtension(path);
}
