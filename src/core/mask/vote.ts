/**
 * Pixel voting over masks of one object: the pixels at least `fraction` of the masks cover. When
 * several prompts of one organ mostly agree on it and each leaks somewhere else (a fetal head
 * whose weak upper wall lets one mask run into the uterine wall, another into the placenta), the
 * vote keeps what they agree on and drops each one's own leak.
 */
import { SalipError } from '../errors.js';
import { assertMask } from './basics.js';
import type { BinaryMask } from '../types.js';

export function voteMasks(masks: readonly BinaryMask[], fraction: number): BinaryMask {
  if (masks.length === 0) throw new SalipError('INVALID_ARGUMENT', 'voteMasks: no masks to vote over');
  if (!(fraction > 0 && fraction <= 1)) throw new SalipError('INVALID_ARGUMENT', `voteMasks: fraction must be in (0, 1], got ${fraction}`);
  const { width, height } = masks[0];
  const counts = new Uint16Array(width * height);
  for (const [j, mask] of masks.entries()) {
    assertMask(mask);
    if (mask.width !== width || mask.height !== height) {
      throw new SalipError('SIZE_MISMATCH', `voteMasks: masks[${j}] is ${mask.width} x ${mask.height}, masks[0] ${width} x ${height}`);
    }
    for (let i = 0; i < counts.length; i++) if (mask.data[i]) counts[i]++;
  }
  // A pixel needs ceil(fraction * n) votes (a small epsilon so 0.5 of 4 masks is 2, not 3).
  const needed = Math.max(1, Math.ceil(fraction * masks.length - 1e-9));
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = counts[i] >= needed ? 1 : 0;
  return { width, height, data };
}
