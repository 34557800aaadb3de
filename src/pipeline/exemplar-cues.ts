/**
 * What the exemplar scorer derives from exemplar lists and candidate masks besides pooled
 * features: the box, size, shape, outline-contrast, edge and peel priors of a list, and each
 * candidate's shape, outline contrast and outline edge strength, each computed once (weakly
 * held) and asked for by the scorer, the proposals and the refinement alike.
 */
import { boundaryContrast, boundaryPrior, luminanceOf, type BoundaryPrior, type Luminance } from '../core/boundary-prior.js';
import { edgeMap, edgePrior, outlineEdgeStrength, type EdgeMap } from '../core/edge-prior.js';
import { ellipseConsistency } from '../core/ellipse.js';
import { exemplarPrior, smallestExemplarPart, type ExemplarPrior } from '../core/exemplar-prior.js';
import { decodeRle } from '../core/mask.js';
import { peelPrior, type PeelPrior } from '../core/peel.js';
import { exemplarShapes, recordShape } from '../core/shape-prior.js';
import type { BinaryMask, RgbImage } from '../core/types.js';
import type { MaskRecord } from './types.js';

/** An example image with the mask of the class in it (as scorers.ts's Exemplar). */
interface Exemplar {
  image: RgbImage;
  mask: BinaryMask;
}

/**
 * Something derived from an exemplar list's masks for a class of `parts` parts, computed once per
 * list (weakly held) and part count: the scorer, the proposals and the refinement all ask for the
 * same list's prior on every image.
 */
function perExemplarList<T>(make: (masks: BinaryMask[], parts: number) => T): (list: readonly Exemplar[], parts: number) => T {
  const cache = new WeakMap<readonly Exemplar[], Map<number, T>>();
  return (list, parts) => {
    let byParts = cache.get(list);
    if (!byParts) cache.set(list, (byParts = new Map()));
    if (!byParts.has(parts)) byParts.set(parts, make(list.map((e) => e.mask), parts));
    return byParts.get(parts)!;
  };
}

/** The exemplars' box prior (core/exemplar-prior.ts) for a class of `parts` parts, once per list. */
export const exemplarPriorOf: (list: readonly Exemplar[], parts: number) => ExemplarPrior = perExemplarList(exemplarPrior);
/** The exemplars' smallest part's area fraction (core/exemplar-prior.ts) for a class of `parts` parts, once per list. */
export const smallestExemplarPartOf: (list: readonly Exemplar[], parts: number) => number = perExemplarList(smallestExemplarPart);
/** The exemplars' part shapes (core/shape-prior.ts) for a class of `parts` parts, once per list. */
export const exemplarShapesOf: (list: readonly Exemplar[], parts: number) => Float32Array[][] = perExemplarList(exemplarShapes);

/**
 * The record's mask, decoded at most once per scoring of it: the per-record cues below take this
 * and call it only when their cache misses, so a record whose shape, contrast and edge are all
 * asked for is decoded once, and no decoded mask outlives the scoring (pools can be kept long).
 */
export function recordMask(record: MaskRecord): () => BinaryMask {
  let mask: BinaryMask | undefined;
  return () => (mask ??= decodeRle(record.segmentation));
}

/** Shape descriptors of pool records, per record mask (weakly held), for the same reason. */
const recordShapes = new WeakMap<object, Float32Array>();
export function shapeOfRecord(record: MaskRecord, mask = recordMask(record)): Float32Array {
  let shape = recordShapes.get(record.segmentation);
  if (!shape) recordShapes.set(record.segmentation, (shape = recordShape(mask(), record.bbox)));
  return shape;
}

/** `make(key)` once per key object (weakly held): a per-image map or a per-list prior. */
function oncePer<K extends object, T>(make: (key: K) => T): (key: K) => T {
  const cache = new WeakMap<K, T>();
  return (key) => {
    if (!cache.has(key)) cache.set(key, make(key));
    return cache.get(key)!;
  };
}

/**
 * A number measured on a record's mask against a per-image map (luminance, edges), once per map
 * and record mask (weakly held).
 */
function perRecordOn<M extends object>(measure: (mask: BinaryMask, map: M) => number): (record: MaskRecord, map: M, mask?: () => BinaryMask) => number {
  const byMap = new WeakMap<M, WeakMap<object, number>>();
  return (record, map, mask = recordMask(record)) => {
    let byRle = byMap.get(map);
    if (!byRle) byMap.set(map, (byRle = new WeakMap()));
    let v = byRle.get(record.segmentation);
    if (v === undefined) byRle.set(record.segmentation, (v = measure(mask(), map)));
    return v;
  };
}

/** Luminance of each image scored with the boundary or edge prior. */
export const luminanceOfImage: (image: RgbImage) => Luminance = oncePer(luminanceOf);
/** The exemplars' outline contrasts, once per list. */
export const exemplarBoundaryOf: (list: readonly Exemplar[]) => BoundaryPrior = oncePer((list) =>
  boundaryPrior(list.map((e) => boundaryContrast(e.mask, luminanceOfImage(e.image)))),
);
/** Outline contrast of pool records, per image and record mask. */
export const contrastOfRecord = perRecordOn<Luminance>(boundaryContrast);

/** The edge map of each image scored with the edge prior. */
export const edgeMapOfImage: (image: RgbImage) => EdgeMap = oncePer((image) => edgeMap(luminanceOfImage(image)));
/** The exemplars' mean outline edge strength, once per list. */
export const exemplarEdgeOf: (list: readonly Exemplar[]) => number = oncePer((list) =>
  edgePrior(list.map((e) => outlineEdgeStrength(e.mask, edgeMapOfImage(e.image)))),
);
/** Outline edge strength of pool records, per edge map and record mask. */
export const edgeOfRecord = perRecordOn<EdgeMap>(outlineEdgeStrength);

/** The exemplars' mean ellipse consistency (core/ellipse.ts), once per list. */
export const exemplarEllipseOf: (list: readonly Exemplar[]) => number = oncePer(
  (list) => list.reduce((sum, e) => sum + ellipseConsistency(e.mask, edgeMapOfImage(e.image)), 0) / list.length,
);
/** Ellipse consistency of pool records, per edge map and record mask. */
export const ellipseOfRecord = perRecordOn<EdgeMap>(ellipseConsistency);

/** The exemplars' peel prior (core/peel.ts), once per list; undefined when they give none. */
export const exemplarPeelOf: (list: readonly Exemplar[]) => PeelPrior | undefined = oncePer((list) =>
  peelPrior(list.map((e) => ({ mask: e.mask, luminance: luminanceOfImage(e.image) }))),
);
