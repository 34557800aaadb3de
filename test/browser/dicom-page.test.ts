/**
 * The example page opens DICOM: a file chosen with the file input and one dropped on the page
 * are read by salip/dicom in Chromium (dist/dicom.js through the page's import map, codecs
 * included) into the same 8-bit image Node reads. No model is loaded (?models=manual).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDicom } from '../../src/dicom.js';
import { pydicomCorpusDir } from '../io/dicom/tools.js';
import { actionCount, fromBase64, openBrowser, waitForAction, type BrowserSession } from './chromium.js';

let session: BrowserSession;

/** The page's opened image (before resizing to the working size), as plain data. */
function pageOriginal(): Promise<{ width: number; height: number; data: string }> {
  return session.page.evaluate(() => {
    const image = (window as unknown as { salipExample: { state: { original: { width: number; height: number; data: Uint8Array } } } }).salipExample.state.original;
    let text = '';
    for (const b of image.data) text += String.fromCharCode(b);
    return { width: image.width, height: image.height, data: btoa(text) };
  });
}

beforeAll(async () => {
  session = await openBrowser();
  await session.page.goto(`${session.server.url}/examples/web/?models=manual`);
});

afterAll(async () => {
  await session?.close();
});

describe('the example page and DICOM', () => {
  it('opens a .dcm from the file input as Node reads it', async () => {
    const path = join(pydicomCorpusDir(), 'CT_small.dcm');
    const before = await actionCount(session.page);
    await session.page.setInputFiles('#image-file', path);
    await waitForAction(session, before);
    const shown = await pageOriginal();
    const node = await readDicom(new Uint8Array(readFileSync(path)));
    expect([shown.width, shown.height]).toEqual([node.image.width, node.image.height]);
    expect(Buffer.compare(Buffer.from(fromBase64(shown.data)), Buffer.from(node.image.data))).toBe(0);
  });

  it('opens a dropped JPEG-LS DICOM file (the codec loads in the browser)', async () => {
    const path = join(pydicomCorpusDir(), 'MR_small_jpeg_ls_lossless.dcm');
    const bytes = readFileSync(path).toString('base64');
    const before = await actionCount(session.page);
    await session.page.evaluate((b64) => {
      const raw = atob(b64);
      const data = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) data[i] = raw.charCodeAt(i);
      const transfer = new DataTransfer();
      transfer.items.add(new File([data], 'mr.dcm', { type: 'application/dicom' }));
      document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, bytes);
    await waitForAction(session, before);
    const shown = await pageOriginal();
    const node = await readDicom(new Uint8Array(readFileSync(path)));
    expect([shown.width, shown.height]).toEqual([64, 64]);
    expect(Buffer.compare(Buffer.from(fromBase64(shown.data)), Buffer.from(node.image.data))).toBe(0);
  });
});
