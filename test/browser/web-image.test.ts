/**
 * The browser image helpers of salip/web (src/web-image.ts), run in headless Chromium against
 * the real ImageData, canvas, <img>, Blob and createImageBitmap, loaded from dist/web.js through
 * the example page's import map (with ?models=manual, so no model is fetched).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodePng } from '../../src/index.js';
import { readPair } from '../helpers/data.js';
import { openBrowser, type BrowserSession } from './chromium.js';

type Web = typeof import('../../src/web.js');

let session: BrowserSession;

/** Runs `body(salip, arg)` in the page; `body` must be self-contained (it is serialised). */
async function inPage<A, R>(body: (salip: Web, arg: A) => Promise<R> | R, arg: A): Promise<R> {
  return session.page.evaluate(
    async ({ source, arg }) => {
      const salip = (window as unknown as { salipWeb: Web }).salipWeb;
      const fn = new Function(`return (${source})`)() as (s: Web, a: unknown) => unknown;
      return fn(salip, arg);
    },
    { source: body.toString(), arg },
  ) as Promise<R>;
}

/** The SalipError code a call throws in the page, or 'none'. */
function codeOf(body: string): Promise<string> {
  return inPage(async (salip, source) => {
    try {
      await (new Function('salip', `return (async () => { ${source} })()`)(salip) as Promise<unknown>);
      return 'none';
    } catch (error) {
      return salip.isSalipError(error) ? error.code : `not a SalipError: ${String(error)}`;
    }
  }, body);
}

beforeAll(async () => {
  session = await openBrowser();
  await session.page.goto(`${session.server.url}/examples/web/?models=manual`);
  // A string, so vitest does not rewrite the import(); the page's import map resolves salip/web
  // to dist/web.js.
  await session.page.evaluate("import('salip/web').then((m) => { window.salipWeb = m; })");
});

afterAll(async () => {
  await session?.close();
});

describe('imageFromImageData', () => {
  it('keeps RGB and drops alpha without compositing', async () => {
    const rgb = await inPage((salip) => {
      const data = new ImageData(new Uint8ClampedArray([10, 20, 30, 255, 40, 50, 60, 0]), 2, 1);
      const image = salip.imageFromImageData(data);
      return { width: image.width, height: image.height, data: Array.from(image.data) };
    }, null);
    expect(rgb).toEqual({ width: 2, height: 1, data: [10, 20, 30, 40, 50, 60] });
  });

  it('refuses what is not an ImageData', async () => {
    expect(await codeOf('salip.imageFromImageData({ width: 1, height: 1, data: [0, 0, 0, 0] })')).toBe('INVALID_IMAGE');
  });
});

describe('imageFromCanvas', () => {
  it('reads a 2-D canvas and an OffscreenCanvas pixel for pixel', async () => {
    const result = await inPage((salip) => {
      const paint = (ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D) => {
        ctx.fillStyle = 'rgb(255, 0, 0)';
        ctx.fillRect(0, 0, 1, 1);
        ctx.fillStyle = 'rgb(0, 128, 7)';
        ctx.fillRect(1, 0, 1, 1);
        ctx.fillStyle = 'rgb(1, 2, 3)';
        ctx.fillRect(0, 1, 2, 1);
      };
      const canvas = document.createElement('canvas');
      canvas.width = 2;
      canvas.height = 2;
      paint(canvas.getContext('2d')!);
      const offscreen = new OffscreenCanvas(2, 2);
      paint(offscreen.getContext('2d')!);
      const blank = document.createElement('canvas');
      blank.width = 3;
      blank.height = 1;
      return [salip.imageFromCanvas(canvas), salip.imageFromCanvas(offscreen), salip.imageFromCanvas(blank)].map((i) => ({
        width: i.width,
        height: i.height,
        data: Array.from(i.data),
      }));
    }, null);
    const painted = { width: 2, height: 2, data: [255, 0, 0, 0, 128, 7, 1, 2, 3, 1, 2, 3] };
    expect(result).toEqual([painted, painted, { width: 3, height: 1, data: [0, 0, 0, 0, 0, 0, 0, 0, 0] }]);
  });

  it('refuses an element that is not a canvas', async () => {
    expect(await codeOf("salip.imageFromCanvas(document.createElement('div'))")).toBe('INVALID_IMAGE');
  });

  it('gives back exactly the image drawn from overlayToImageData (any size, any pixels)', async () => {
    const images = fc.sample(
      fc
        .record({ width: fc.integer({ min: 1, max: 9 }), height: fc.integer({ min: 1, max: 9 }) })
        .chain(({ width, height }) =>
          fc.record({
            width: fc.constant(width),
            height: fc.constant(height),
            data: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: width * height * 3, maxLength: width * height * 3 }),
          }),
        ),
      { numRuns: 40, seed: 20240406 },
    );
    const back = await inPage((salip, cases) => {
      return cases.map(({ width, height, data }) => {
        const canvas = document.createElement('canvas');
        canvas.width = width;
        canvas.height = height;
        canvas.getContext('2d')!.putImageData(salip.overlayToImageData({ width, height, data: new Uint8Array(data) }), 0, 0);
        return Array.from(salip.imageFromCanvas(canvas).data);
      });
    }, images);
    expect(back).toEqual(images.map((i) => i.data));
  });
});

describe('imageFromElement and imageFromBlob', () => {
  const picture = { width: 3, height: 2, data: new Uint8Array([0, 0, 0, 255, 255, 255, 12, 34, 56, 200, 100, 50, 7, 7, 7, 1, 254, 128]) };

  it('decode a PNG to its stored pixels, through an <img> and through a Blob', async () => {
    const result = await inPage(async (salip, png) => {
      const blob = new Blob([new Uint8Array(png)], { type: 'image/png' });
      const img = new Image();
      img.src = URL.createObjectURL(blob);
      await img.decode();
      const fromElement = salip.imageFromElement(img);
      URL.revokeObjectURL(img.src);
      const fromBlob = await salip.imageFromBlob(blob);
      return [fromElement, fromBlob].map((i) => ({ width: i.width, height: i.height, data: Array.from(i.data) }));
    }, Array.from(encodePng(picture)));
    const expected = { width: 3, height: 2, data: Array.from(picture.data) };
    expect(result).toEqual([expected, expected]);
  });

  it('give a real 8-bit CXR the same pixels as decodeImage does on Node', async () => {
    const bytes = readPair('lung_xray', 'MCUCXR_0001_0.png').image;
    const fromBlob = await inPage(async (salip) => {
      const response = await fetch('/data/lung_xray/images/MCUCXR_0001_0.png');
      const image = await salip.imageFromBlob(await response.blob());
      let text = '';
      for (let i = 0; i < image.data.length; i += 0x8000) text += String.fromCharCode(...image.data.subarray(i, i + 0x8000));
      return { width: image.width, height: image.height, data: btoa(text) };
    }, null);
    const reference = decodeImage(bytes).image;
    expect([fromBlob.width, fromBlob.height]).toEqual([reference.width, reference.height]);
    expect(Buffer.from(fromBlob.data, 'base64').equals(Buffer.from(reference.data))).toBe(true);
  });

  it('say why an <img> cannot be read yet, and refuse undecodable Blobs and non-Blobs', async () => {
    expect(await codeOf('salip.imageFromElement(new Image())')).toBe('INVALID_IMAGE');
    expect(await codeOf("salip.imageFromElement(document.createElement('canvas'))")).toBe('INVALID_IMAGE');
    expect(await codeOf("await salip.imageFromBlob(new Blob(['not an image'], { type: 'image/png' }))")).toBe('DECODE_FAILED');
    expect(await codeOf("await salip.imageFromBlob('image.png')")).toBe('INVALID_IMAGE');
  });
});

describe('maskToImageData and overlayToImageData', () => {
  it('paint the mask colour on foreground and the background elsewhere', async () => {
    const result = await inPage((salip) => {
      const mask = { width: 2, height: 2, data: new Uint8Array([1, 0, 0, 1]) };
      return [
        salip.maskToImageData(mask),
        salip.maskToImageData(mask, [10, 20, 30]),
        salip.maskToImageData(mask, [1, 2, 3, 4], [0, 0, 0, 255]),
      ].map((d) => [d.width, d.height, ...Array.from(d.data)]);
    }, null);
    expect(result).toEqual([
      [2, 2, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255],
      [2, 2, 10, 20, 30, 255, 0, 0, 0, 0, 0, 0, 0, 0, 10, 20, 30, 255],
      [2, 2, 1, 2, 3, 4, 0, 0, 0, 255, 0, 0, 0, 255, 1, 2, 3, 4],
    ]);
  });

  it('turn RGB into opaque RGBA', async () => {
    const result = await inPage((salip) => {
      const d = salip.overlayToImageData({ width: 1, height: 2, data: new Uint8Array([9, 8, 7, 6, 5, 4]) });
      return [d.width, d.height, ...Array.from(d.data)];
    }, null);
    expect(result).toEqual([1, 2, 9, 8, 7, 255, 6, 5, 4, 255]);
  });

  it('refuse bad colours, malformed masks and images', async () => {
    const mask = '{ width: 2, height: 1, data: new Uint8Array([1, 0]) }';
    expect(await codeOf(`salip.maskToImageData(${mask}, [256, 0, 0])`)).toBe('INVALID_ARGUMENT');
    expect(await codeOf(`salip.maskToImageData(${mask}, [1, 2])`)).toBe('INVALID_ARGUMENT');
    expect(await codeOf(`salip.maskToImageData(${mask}, [1, 2, 3], [0, 0, 0, 0.5])`)).toBe('INVALID_ARGUMENT');
    expect(await codeOf('salip.maskToImageData({ width: 2, height: 2, data: new Uint8Array(3) })')).toBe('INVALID_ARGUMENT');
    expect(await codeOf('salip.overlayToImageData({ width: 2, height: 2, data: new Uint8Array(3) })')).toBe('INVALID_IMAGE');
    expect(await codeOf('salip.overlayToImageData({ width: 0, height: 2, data: new Uint8Array(0) })')).toBe('INVALID_IMAGE');
  });
});
