/**
 * Checks of SAM prompts against the image they are meant for, applied where prompts enter the
 * library (the prompted stage) so that every SamModel, including a user's own, sees only finite,
 * non-inverted coordinates inside the image.
 */
import { SalipError, describeValue } from '../../core/errors.js';
import type { SamPrompt } from './types.js';

/** Prompt coordinates may lie this far outside the image (pixel edges, rounding of boxes). */
const TOLERANCE_PX = 1;

function invalidPrompt(message: string): SalipError {
  return new SalipError('INVALID_PROMPT', message);
}

/**
 * Throws INVALID_PROMPT unless `prompt` has finite points labelled 0/1 and/or a non-inverted
 * [x0, y0, x1, y1] box, all within 1 px of a width x height image. `what` names the prompt.
 */
export function checkSamPrompt(prompt: SamPrompt, width: number, height: number, supportsPoints: boolean, what = 'prompt'): void {
  if (prompt === null || typeof prompt !== 'object' || Array.isArray(prompt)) {
    throw invalidPrompt(`${what}: expected { points?, box? }, got ${describeValue(prompt)}`);
  }
  if (prompt.points === undefined && prompt.box === undefined) {
    throw invalidPrompt(`${what}: expected at least one point or a box (or points: [] for the un-prompted query), got neither`);
  }
  const points = prompt.points ?? [];
  if (!Array.isArray(points)) throw invalidPrompt(`${what}.points: expected an array of { x, y, label }, got ${describeValue(points)}`);
  if (points.length > 0 && !supportsPoints) {
    throw invalidPrompt(`${what}.points: this SAM model takes boxes only (MedSAM-style), got ${points.length} point(s)`);
  }
  const inside = (x: number, y: number): boolean =>
    x >= -TOLERANCE_PX && y >= -TOLERANCE_PX && x <= width + TOLERANCE_PX && y <= height + TOLERANCE_PX;
  points.forEach((p, i) => {
    const where = `${what}.points[${i}]`;
    if (p === null || typeof p !== 'object' || !Number.isFinite(p.x) || !Number.isFinite(p.y)) {
      throw invalidPrompt(`${where}: expected finite x and y, got (${describeValue(p?.x)}, ${describeValue(p?.y)})`);
    }
    if (p.label !== 0 && p.label !== 1) throw invalidPrompt(`${where}.label: expected 0 (background) or 1 (foreground), got ${describeValue(p.label)}`);
    if (!inside(p.x, p.y)) throw invalidPrompt(`${where}: (${p.x}, ${p.y}) is outside the ${width}x${height} image by more than 1 px`);
  });
  const box = prompt.box;
  if (box === undefined) return;
  if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw invalidPrompt(`${what}.box: expected four finite numbers [x0, y0, x1, y1], got ${describeValue(box)}`);
  }
  const [x0, y0, x1, y1] = box;
  if (x1 < x0 || y1 < y0) throw invalidPrompt(`${what}.box: [${box.join(', ')}] is inverted (expected x1 >= x0 and y1 >= y0)`);
  if (!inside(x0, y0) || !inside(x1, y1)) {
    throw invalidPrompt(`${what}.box: [${box.join(', ')}] is outside the ${width}x${height} image by more than 1 px`);
  }
}
