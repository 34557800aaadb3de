import { describe, expect, it } from 'vitest';
import { pointGrid, pointGridsPerLayer } from '../../../src/core/everything/index.js';

describe('pointGrid', () => {
  it('places points at cell centres with x varying fastest', () => {
    expect([...pointGrid(2)]).toEqual([0.25, 0.25, 0.75, 0.25, 0.25, 0.75, 0.75, 0.75]);
    expect([...pointGrid(1)]).toEqual([0.5, 0.5]);
  });
  it('matches (i + 0.5) / n for a larger grid', () => {
    const n = 32;
    const g = pointGrid(n);
    expect(g.length).toBe(n * n * 2);
    for (let k = 0; k < n * n; k++) {
      expect(g[2 * k]).toBeCloseTo(((k % n) + 0.5) / n, 6);
      expect(g[2 * k + 1]).toBeCloseTo((Math.floor(k / n) + 0.5) / n, 6);
    }
  });
  it('rejects non-positive or fractional sizes', () => {
    expect(() => pointGrid(0)).toThrow(/nPerSide: expected a positive integer, got 0/);
    expect(() => pointGrid(2.5)).toThrow(/nPerSide/);
  });
});

describe('pointGridsPerLayer', () => {
  it('returns one grid per layer including layer 0, floor(n / factor^i) per side', () => {
    const grids = pointGridsPerLayer(32, 2, 2);
    expect(grids.map((g) => Math.sqrt(g.length / 2))).toEqual([32, 16, 8]);
    expect(pointGridsPerLayer(10, 2, 3).map((g) => Math.sqrt(g.length / 2))).toEqual([10, 3, 1]);
    expect(pointGridsPerLayer(16, 0, 2)).toHaveLength(1);
    expect(pointGridsPerLayer(8, 1, 1).map((g) => g.length)).toEqual([128, 128]);
  });
  it('rejects a layer that would get no points', () => {
    expect(() => pointGridsPerLayer(4, 3, 2)).toThrow(/crop layer 3: expected at least 1 point per side, got 0/);
  });
});
