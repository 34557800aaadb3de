/**
 * Connected components of binary masks (union-find labelling, 4- or 8-connectivity), their
 * boxes, and hole filling.
 */
import { assertArgument } from '../errors.js';
import type { BinaryMask, BoxXYXY } from '../types.js';
import { assertMask } from './basics.js';

/** Result of connectedComponents; `areas[k]` and `boxes[k]` describe label k + 1. */
export interface ConnectedComponents {
  /** Per pixel: 0 for background, 1..count for the component it belongs to. */
  readonly labels: Int32Array;
  readonly count: number;
  /** Pixel count of each component, index k for label k + 1. */
  readonly areas: number[];
  /** Inclusive box of each component, index k for label k + 1. */
  readonly boxes: BoxXYXY[];
}

function findRoot(parent: Int32Array, i: number): number {
  while (parent[i] !== i) {
    parent[i] = parent[parent[i]];
    i = parent[i];
  }
  return i;
}

/** Joins the sets of provisional labels `label` (0 = none yet) and `neighbour` (0 = unlabelled). */
function mergeLabel(parent: Int32Array, label: number, neighbour: number): number {
  if (neighbour === 0) return label;
  const rb = findRoot(parent, neighbour);
  if (label === 0) return rb;
  const ra = findRoot(parent, label);
  if (ra === rb) return ra;
  if (ra < rb) {
    parent[rb] = ra;
    return ra;
  }
  parent[ra] = rb;
  return rb;
}

/**
 * Labels the pixels whose foreground-ness equals `target` (1: foreground, 0: background) with
 * two-pass union-find. Labels are numbered in row-major order of each component's first pixel,
 * as OpenCV's connectedComponents. Internal: lets removeSmallRegions label holes without
 * building an inverted mask.
 */
export function labelPixels(
  data: Uint8Array,
  width: number,
  height: number,
  target: 0 | 1,
  connectivity: 4 | 8,
): { labels: Int32Array; count: number; areas: number[] } {
  const n = width * height;
  const labels = new Int32Array(n);
  // Provisional labels start at 1; parent[0] is unused.
  const parent = new Int32Array(n + 1);
  let next = 1;
  const wide = connectivity === 8;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      if ((data[i] !== 0 ? 1 : 0) !== target) continue;
      let label = 0;
      if (x > 0) label = mergeLabel(parent, label, labels[i - 1]);
      if (y > 0) {
        label = mergeLabel(parent, label, labels[i - width]);
        if (wide) {
          if (x > 0) label = mergeLabel(parent, label, labels[i - width - 1]);
          if (x < width - 1) label = mergeLabel(parent, label, labels[i - width + 1]);
        }
      }
      if (label === 0) {
        label = next++;
        parent[label] = label;
      }
      labels[i] = label;
    }
  }
  // Final labels follow the order in which roots are first met in the scan.
  const finalOf = new Int32Array(next);
  const areas: number[] = [];
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (l === 0) continue;
    const root = findRoot(parent, l);
    let f = finalOf[root];
    if (f === 0) {
      areas.push(0);
      f = finalOf[root] = areas.length;
    }
    labels[i] = f;
    areas[f - 1]++;
  }
  return { labels, count: areas.length, areas };
}

/** Labels the foreground's connected components (label 0 = background, components 1..count). */
export function connectedComponents(mask: BinaryMask, connectivity: 4 | 8 = 8): ConnectedComponents {
  assertMask(mask);
  assertArgument(connectivity === 4 || connectivity === 8, 'connectivity', '4 or 8', connectivity);
  const { width, height } = mask;
  const { labels, count, areas } = labelPixels(mask.data, width, height, 1, connectivity);
  const bounds = new Int32Array(count * 4);
  for (let k = 0; k < count; k++) {
    bounds[k * 4] = width;
    bounds[k * 4 + 1] = height;
    bounds[k * 4 + 2] = -1;
    bounds[k * 4 + 3] = -1;
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const l = labels[y * width + x];
      if (l === 0) continue;
      const b = (l - 1) * 4;
      if (x < bounds[b]) bounds[b] = x;
      if (y < bounds[b + 1]) bounds[b + 1] = y;
      if (x > bounds[b + 2]) bounds[b + 2] = x;
      if (y > bounds[b + 3]) bounds[b + 3] = y;
    }
  }
  const boxes: BoxXYXY[] = [];
  for (let k = 0; k < count; k++) boxes.push([bounds[k * 4], bounds[k * 4 + 1], bounds[k * 4 + 2], bounds[k * 4 + 3]]);
  return { labels, count, areas, boxes };
}

/** One inclusive box per connected component of the foreground, in label order. */
export function componentBoxes(mask: BinaryMask, connectivity: 4 | 8 = 8): BoxXYXY[] {
  return connectedComponents(mask, connectivity).boxes;
}

/** Fills holes: background pixels not 4-connected to the image border become foreground. */
export function fillHoles(mask: BinaryMask): BinaryMask {
  assertMask(mask);
  const { width, height, data } = mask;
  const n = width * height;
  // 1 = background reachable from the border.
  const outside = new Uint8Array(n);
  const queue = new Int32Array(n);
  let head = 0;
  let tail = 0;
  const seed = (i: number): void => {
    if (data[i] === 0 && outside[i] === 0) {
      outside[i] = 1;
      queue[tail++] = i;
    }
  };
  for (let x = 0; x < width; x++) {
    seed(x);
    seed((height - 1) * width + x);
  }
  for (let y = 0; y < height; y++) {
    seed(y * width);
    seed(y * width + width - 1);
  }
  while (head < tail) {
    const i = queue[head++];
    const x = i % width;
    if (x > 0) seed(i - 1);
    if (x < width - 1) seed(i + 1);
    if (i >= width) seed(i - width);
    if (i < n - width) seed(i + width);
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = outside[i] === 0 ? 1 : 0;
  return { width, height, data: out };
}
