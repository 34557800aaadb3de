/** Small PNG inputs for the batch and queue tests, each with its own pixels (so its own hash and mask). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng } from '../../src/io/image-codecs.js';

/** Writes img-00.png ... into `folder` (24 x 20 pixels); returns their paths. */
export function writeTestImages(folder: string, count: number): string[] {
  mkdirSync(folder, { recursive: true });
  return Array.from({ length: count }, (_, k) => {
    const data = new Uint8Array(24 * 20 * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + k * 31 + ((i * k) % 13)) & 255;
    const path = join(folder, `img-${String(k).padStart(2, '0')}.png`);
    writeFileSync(path, encodePng({ width: 24, height: 20, data }));
    return path;
  });
}
