/**
 * The border prior: how much of a mask's outline lies on the image's edge. An organ inside the
 * body rarely reaches the edge of the picture, and SAM's masks that leaked into the background
 * (past the lung's wall into the arm, past the skull into the fan's border) often run along it.
 * Comparing a candidate's share with the exemplars' leaves organs that do reach the edge alone.
 */
import type { BinaryMask } from './types.js';

/**
 * Share (0-1) of the mask's outline pixels that lie on the image's outermost row or column. A
 * pixel is on the outline when it is in the mask and a 4-neighbour is not (or is off the image).
 * An empty mask has no outline: 0.
 */
export function borderContact(mask: BinaryMask): number {
  const { width: w, height: h, data } = mask;
  let outline = 0;
  let onEdge = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!data[i]) continue;
      const edge = x === 0 || y === 0 || x === w - 1 || y === h - 1;
      if (edge) {
        outline++;
        onEdge++;
      } else if (!data[i - 1] || !data[i + 1] || !data[i - w] || !data[i + w]) {
        outline++;
      }
    }
  }
  return outline === 0 ? 0 : onEdge / outline;
}

/** The exemplars' allowance: the largest border contact among them (0 when none touches the edge). */
export function borderPrior(contacts: readonly number[]): number {
  return contacts.reduce((m, c) => Math.max(m, c), 0);
}

/** How far (0-1) the candidate's border contact exceeds the exemplars' allowance: 0 when it does not. */
export function borderExcess(prior: number, contact: number): number {
  return Math.max(0, contact - prior);
}
