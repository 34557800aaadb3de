/**
 * A SamModel written in TypeScript for stage tests: no ONNX, exact known outputs.
 * - A point prompt gives masks that are disks around the point, radius RADII[k] image pixels,
 *   with logit = (r^2 - d^2) / r (so the edge is sharp for small disks), predicted IoU IOUS[k].
 * - A box prompt gives the box filled (logit +8 inside, -8 outside), IoU 0.99.
 * - No prompt at all (only the padding point) gives a centred disk of radius 1/3 of the short side.
 * Logits are produced in the 256 x 256 low-res frame of a 1024 model input (longest side resize,
 * padding bottom/right), exactly as a Meta decoder's low_res_masks are laid out.
 */
import { longestSideSize, type RgbImage, type SamImageEmbedding, type SamModel, type SamPrompt, type SamDecodeResult } from '../../src/index.js';
import type { BinaryMask, BoxXYXY } from '../../src/core/types.js';

export const RADII = [3, 6, 10];
export const IOUS = [0.95, 0.5, 0.9];

export interface FakeSam extends SamModel {
  embedCalls: number;
  decodeCalls: number;
  disposed: boolean;
}

export function createFakeSam(options: { multimask?: boolean; delayMs?: number } = {}): FakeSam {
  const multimask = options.multimask ?? true;
  const fake: FakeSam = {
    embedCalls: 0,
    decodeCalls: 0,
    disposed: false,
    info: { preset: 'fake', supportsMultimask: multimask, supportsPoints: true },
    async embed(image: RgbImage): Promise<SamImageEmbedding> {
      fake.embedCalls++;
      const { width, height } = longestSideSize(image.width, image.height, 1024);
      const scale = 1024 / Math.max(image.width, image.height);
      // Two channels: mean brightness per 16x16 model-frame cell (enough for pooling tests).
      const data = new Float32Array(2 * 64 * 64);
      for (let gy = 0; gy < 64; gy++) {
        for (let gx = 0; gx < 64; gx++) {
          const x = Math.min(image.width - 1, Math.floor(((gx + 0.5) * 16) / scale));
          const y = Math.min(image.height - 1, Math.floor(((gy + 0.5) * 16) / scale));
          const inside = (gx + 0.5) * 16 < width && (gy + 0.5) * 16 < height;
          data[gy * 64 + gx] = inside ? image.data[(y * image.width + x) * 3] / 255 : 0;
          data[4096 + gy * 64 + gx] = inside ? 1 : 0;
        }
      }
      return {
        data,
        dims: [1, 2, 64, 64],
        transform: { inputSize: 1024, scaleX: scale, scaleY: scale, resizedWidth: width, resizedHeight: height, imageWidth: image.width, imageHeight: image.height },
      };
    },
    async decode(embedding: SamImageEmbedding, prompt: SamPrompt, opts): Promise<SamDecodeResult> {
      fake.decodeCalls++;
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      const t = embedding.transform;
      const field = (fn: (x: number, y: number) => number) => {
        const out = new Float32Array(256 * 256);
        for (let i = 0; i < 256; i++) {
          for (let j = 0; j < 256; j++) out[i * 256 + j] = fn(((j + 0.5) * 4) / t.scaleX, ((i + 0.5) * 4) / t.scaleY);
        }
        return out;
      };
      if (prompt.box) {
        const [x0, y0, x1, y1] = prompt.box;
        return { lowResLogits: [field((x, y) => (x >= x0 && x <= x1 + 1 && y >= y0 && y <= y1 + 1 ? 8 : -8))], iouPredictions: Float32Array.of(0.99), lowResSize: 256 };
      }
      const p = prompt.points?.[0];
      const cx = p ? p.x : t.imageWidth / 2;
      const cy = p ? p.y : t.imageHeight / 2;
      const radii = p ? RADII : [Math.min(t.imageWidth, t.imageHeight) / 3];
      const ious = p ? IOUS : [0.7];
      const disk = (r: number) => field((x, y) => (r * r - ((x - cx) ** 2 + (y - cy) ** 2)) / r);
      if (opts.multimask) return { lowResLogits: radii.map(disk), iouPredictions: Float32Array.from(ious), lowResSize: 256 };
      return { lowResLogits: [disk(radii[0])], iouPredictions: Float32Array.of(ious[0]), lowResSize: 256 };
    },
    async dispose() {
      fake.disposed = true;
    },
  };
  return fake;
}

/** A fake SAM with decodeBatch (each point decoded alone), recording the batch sizes. */
export function createBatchingFakeSam(): { sam: FakeSam; sizes: number[] } {
  const sam = createFakeSam();
  const sizes: number[] = [];
  sam.decodeBatch = async (embedding, points, options) => {
    sizes.push(points.length);
    return Promise.all(points.map((p) => sam.decode(embedding, { points: [p] }, options)));
  };
  return { sam, sizes };
}

/** A fake SAM (a new one unless given) and its embedding of the image: where a stage test starts. */
export async function embedWithFakeSam(image: RgbImage, sam: FakeSam = createFakeSam()): Promise<{ sam: FakeSam; image: RgbImage; embedding: SamImageEmbedding }> {
  return { sam, image, embedding: await sam.embed(image) };
}

/** Wraps sam.decode so that `seen` gets every prompt just before it is decoded; returns the same sam. */
export function watchDecodes(sam: FakeSam, seen: (prompt: SamPrompt) => void): FakeSam {
  const decode = sam.decode.bind(sam);
  sam.decode = (embedding, prompt, options) => {
    seen(prompt);
    return decode(embedding, prompt, options);
  };
  return sam;
}

/**
 * A fake SAM whose box prompts give the mask maskFor(box) says (inside(x, y) in image pixels:
 * logit +8, else -8; one mask, IoU 0.9); other prompts decode as createFakeSam's do.
 */
export function fakeSamWithBoxMasks(maskFor: (box: BoxXYXY) => (x: number, y: number) => boolean): FakeSam {
  const sam = createFakeSam();
  const decode = sam.decode.bind(sam);
  sam.decode = async (embedding, prompt, options) => {
    if (!prompt.box) return decode(embedding, prompt, options);
    const inside = maskFor(prompt.box);
    const scale = embedding.transform.scaleX;
    const logits = new Float32Array(256 * 256);
    for (let i = 0; i < 256; i++) for (let j = 0; j < 256; j++) logits[i * 256 + j] = inside(((j + 0.5) * 4) / scale, ((i + 0.5) * 4) / scale) ? 8 : -8;
    return { lowResLogits: [logits], iouPredictions: Float32Array.of(0.9), lowResSize: 256 };
  };
  return sam;
}

/** Whether image point (x, y) falls on a set pixel of the mask (coordinates floored, clamped to the last column and row). */
export function onMask(mask: BinaryMask): (x: number, y: number) => boolean {
  return (x, y) => mask.data[Math.min(mask.height - 1, Math.floor(y)) * mask.width + Math.min(mask.width - 1, Math.floor(x))] === 1;
}

/** A grey image with a bright rectangle, for stages that look at pixels. */
export function testImage(width: number, height: number, rect?: [number, number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3).fill(40);
  if (rect) {
    const [x0, y0, x1, y1] = rect;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data.fill(220, (y * width + x) * 3, (y * width + x) * 3 + 3);
  }
  return { width, height, data };
}
