/**
 * Prompt point grids for segment-everything (segment-anything's build_point_grid and
 * build_all_layer_point_grids, re-expressed).
 */
import { assertArgument } from '../errors.js';

/**
 * Most points per side of a grid. 1024 x 1024 prompts already take hours on any SAM; beyond it a
 * typo (1e6) would otherwise surface as a RangeError from the grid's allocation.
 */
const MAX_POINTS_PER_SIDE = 1024;

/**
 * n x n points at cell centres ((i + 0.5) / n), normalised to [0, 1], as interleaved [x, y]
 * pairs; x varies fastest, so point k is (column k % n, row floor(k / n)).
 */
export function pointGrid(nPerSide: number): Float32Array {
  assertArgument(Number.isInteger(nPerSide) && nPerSide > 0, 'nPerSide', 'a positive integer', nPerSide);
  assertArgument(nPerSide <= MAX_POINTS_PER_SIDE, 'nPerSide (pointsPerSide)', `at most ${MAX_POINTS_PER_SIDE} points per side`, nPerSide);
  const out = new Float32Array(nPerSide * nPerSide * 2);
  for (let row = 0; row < nPerSide; row++) {
    const y = (row + 0.5) / nPerSide;
    for (let col = 0; col < nPerSide; col++) {
      const k = (row * nPerSide + col) * 2;
      out[k] = (col + 0.5) / nPerSide;
      out[k + 1] = y;
    }
  }
  return out;
}

/**
 * One grid per crop layer, layer 0 (the whole image) through `nLayers` (the extra crop layers,
 * as cropNLayers): nLayers + 1 grids, layer i with floor(nPerSide / downscaleFactor^i) points
 * per side. A layer that would get no point at all is an INVALID_ARGUMENT (the reference fails
 * there too).
 */
export function pointGridsPerLayer(nPerSide: number, nLayers: number, downscaleFactor: number): Float32Array[] {
  assertArgument(Number.isInteger(nPerSide) && nPerSide > 0, 'nPerSide', 'a positive integer', nPerSide);
  assertArgument(nPerSide <= MAX_POINTS_PER_SIDE, 'nPerSide (pointsPerSide)', `at most ${MAX_POINTS_PER_SIDE} points per side`, nPerSide);
  assertArgument(Number.isInteger(nLayers) && nLayers >= 0, 'nLayers', 'a non-negative integer', nLayers);
  assertArgument(
    typeof downscaleFactor === 'number' && Number.isFinite(downscaleFactor) && downscaleFactor > 0,
    'downscaleFactor',
    'a positive finite number',
    downscaleFactor,
  );
  const grids: Float32Array[] = [];
  for (let i = 0; i <= nLayers; i++) {
    const n = Math.floor(nPerSide / downscaleFactor ** i);
    assertArgument(
      n >= 1,
      `pointsPerSide ${nPerSide} / downscaleFactor ${downscaleFactor}^${i} for crop layer ${i}`,
      'at least 1 point per side',
      n,
    );
    grids.push(pointGrid(n));
  }
  return grids;
}
