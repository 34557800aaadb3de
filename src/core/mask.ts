/**
 * Binary masks: construction, COCO RLE, boxes, set overlap measures, resizing and connected
 * components. Pure functions over plain data (no I/O), usable in Node and browsers; the parts live
 * in mask/ (basics, rle, components, hull, vote).
 *
 * Functions that read a mask treat any non-zero byte as foreground; functions that build a mask
 * write only 0 and 1.
 */
export { assertMask, boxIoU, boxXywhToXyxy, boxXyxyToXywh, createMask, maskArea, maskDice, maskFromLogits, maskIntersectionArea, maskIoU, maskToBox, maskUnion, resizeMaskBilinear, resizeMaskNearest } from './mask/basics.js';
export { decodeRle, encodeRle, encodeRleInBox, rleArea, rleToBox } from './mask/rle.js';
export { voteMasks } from './mask/vote.js';
export { componentBoxes, connectedComponents, fillHoles, labelPixels } from './mask/components.js';
export type { ConnectedComponents } from './mask/components.js';
export { convexHull, maskHullVertices } from './mask/hull.js';
