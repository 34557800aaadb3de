/**
 * salip/dicom: DICOM in (single- and multi-frame images, a series as a volume) and DICOM SEG out,
 * in Node and browsers. Needs the optional peer packages dicom-parser and dcmjs (and, for JPEG
 * lossless, JPEG-LS and JPEG 2000 pixel data, jpeg-lossless-decoder-js, @cornerstonejs/codec-charls
 * and @cornerstonejs/codec-openjpeg); `salip` and `salip/web` load none of them.
 */
export * from './io/dicom/detect.js';
export { parseDicom, type DicomGeometry, type DicomIdentity, type DicomPixelLayout, type DicomValueMapping, type DicomVoiLut, type ParsedDicom } from './io/dicom/parse.js';
export { COMPRESSED_SYNTAXES, type Samples } from './io/dicom/codecs.js';
export * from './io/dicom/pixels.js';
export * from './io/dicom/read.js';
export * from './io/dicom/series.js';
export * from './io/dicom/seg.js';
