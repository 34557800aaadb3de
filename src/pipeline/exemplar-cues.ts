/**
 * What the exemplar scorer derives from exemplar lists and candidate masks besides pooled
 * features: the box, shape, outline-contrast and edge priors of a list, and each candidate's
 * shape, outline contrast and outline edge strength, each computed once (weakly held) and asked for by the scorer, the proposals and the
 * refinement alike.
 */
import { boundaryContrast, boundaryPrior, luminanceOf, type BoundaryPrior, type Luminance } from '../core/boundary-prior.js';
import { edgeMap, edgePrior, outlineEdgeStrength, type EdgeMap } from '../core/edge-prior.js';
import { exemplarPrior, smallestExemplarPart, type ExemplarPrior } from '../core/exemplar-prior.js';
import { decodeRle } from '../core/mask.js';
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

/** Luminance of each image scored with the boundary prior (weakly held). */
const luminances = new WeakMap<RgbImage, Luminance>();
export function luminanceOfImage(image: RgbImage): Luminance {
  let l = luminances.get(image);
  if (!l) luminances.set(image, (l = luminanceOf(image)));
  return l;
}

/** The exemplars' outline contrasts, once per list. */
const boundaryPriors = new WeakMap<readonly Exemplar[], BoundaryPrior>();
export function exemplarBoundaryOf(list: readonly Exemplar[]): BoundaryPrior {
  let prior = boundaryPriors.get(list);
  if (!prior) boundaryPriors.set(list, (prior = boundaryPrior(list.map((e) => boundaryContrast(e.mask, luminanceOfImage(e.image))))));
  return prior;
}

/** Outline contrast of pool records, per image and record mask (weakly held). */
const recordContrasts = new WeakMap<Luminance, WeakMap<object, number>>();
export function contrastOfRecord(record: MaskRecord, luminance: Luminance, mask = recordMask(record)): number {
  let byRle = recordContrasts.get(luminance);
  if (!byRle) recordContrasts.set(luminance, (byRle = new WeakMap()));
  let c = byRle.get(record.segmentation);
  if (c === undefined) byRle.set(record.segmentation, (c = boundaryContrast(mask(), luminance)));
  return c;
}

/** The edge map of each image scored with the edge prior (weakly held). */
const edgeMaps = new WeakMap<RgbImage, EdgeMap>();
export function edgeMapOfImage(image: RgbImage): EdgeMap {
  let e = edgeMaps.get(image);
  if (!e) edgeMaps.set(image, (e = edgeMap(luminanceOfImage(image))));
  return e;
}

/** The exemplars' mean outline edge strength, once per list. */
const edgePriors = new WeakMap<readonly Exemplar[], number>();
export function exemplarEdgeOf(list: readonly Exemplar[]): number {
  let prior = edgePriors.get(list);
  if (prior === undefined) edgePriors.set(list, (prior = edgePrior(list.map((e) => outlineEdgeStrength(e.mask, edgeMapOfImage(e.image))))));
  return prior;
}

/** Outline edge strength of pool records, per edge map and record mask (weakly held). */
const recordEdges = new WeakMap<EdgeMap, WeakMap<object, number>>();
export function edgeOfRecord(record: MaskRecord, edges: EdgeMap, mask = recordMask(record)): number {
  let byRle = recordEdges.get(edges);
  if (!byRle) recordEdges.set(edges, (byRle = new WeakMap()));
  let e = byRle.get(record.segmentation);
  if (e === undefined) byRle.set(record.segmentation, (e = outlineEdgeStrength(mask(), edges)));
  return e;
}
