/**
 * The batch report a person reads: one self-contained HTML file with the counts, the failures
 * with their codes, and for the first images a thumbnail with the mask outlined.
 */
import { resizeImage } from '../core/image.js';
import { resizeMaskNearest } from '../core/mask.js';
import { renderOverlay } from '../core/overlay.js';
import { readImageFile, readMaskFile } from '../backends/node-files.js';
import { encodePng } from '../io/image-codecs.js';
import type { BatchInput } from './inputs.js';
import type { BatchSummary } from './summary.js';
import { relative } from 'node:path';

/** Thumbnails beyond this many would make the report too heavy to open for a large archive. */
export const REPORT_THUMBNAILS = 60;
const THUMB = 128;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

async function thumbnail(input: string, output: string): Promise<string> {
  try {
    const image = await readImageFile(input);
    const mask = await readMaskFile(output);
    const scale = THUMB / Math.max(image.width, image.height);
    const w = Math.max(1, Math.round(image.width * scale));
    const h = Math.max(1, Math.round(image.height * scale));
    const png = encodePng(renderOverlay(resizeImage(image, w, h, 'bilinear'), [{ mask: resizeMaskNearest(mask, w, h), color: [0, 170, 255], fillAlpha: 0.35, outline: 1 }]));
    return `<img src="data:image/png;base64,${Buffer.from(png).toString('base64')}">`;
  } catch {
    return '';
  }
}

export async function renderBatchHtml(summary: BatchSummary, inputs: readonly BatchInput[], outDir: string): Promise<string> {
  const kinds = new Map(inputs.map((i) => [i.path, i.kind]));
  const failed = summary.inputs.filter((o) => o.status === 'failed');
  const shown = summary.inputs.filter((o) => o.status !== 'failed' && kinds.get(o.input) === 'image').slice(0, REPORT_THUMBNAILS);
  const cells = await Promise.all(shown.map(async (o) => `<figure>${await thumbnail(o.input, o.output)}<figcaption>${escapeHtml(relative(outDir, o.output))}</figcaption></figure>`));
  const failures = failed.map((o) => `<tr><td>${escapeHtml(o.input)}</td><td>${escapeHtml(o.code ?? '')}</td><td>${escapeHtml(o.message ?? '')}</td></tr>`).join('\n');
  const c = summary.counts;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>salip batch: ${escapeHtml(summary.task)}</title>
<style>body{font:14px sans-serif;margin:1em}table{border-collapse:collapse}td,th{padding:4px;border:1px solid #ccc;text-align:left}figure{display:inline-block;margin:4px;font-size:11px}img{display:block}</style>
</head><body>
<h1>salip batch: ${escapeHtml(summary.task)}</h1>
<p>${c.total} inputs: ${c.done} segmented, ${c.skipped} already done, ${c.failed} failed; ${summary.workers} worker(s) x ${summary.threads ?? 'default'} thread(s), ${(summary.elapsedMs / 1000).toFixed(1)} s, ${summary.imagesPerMinute.toFixed(1)} images/min. salip ${escapeHtml(summary.version)}, task hash ${summary.taskHash.slice(0, 12)}.</p>
${failed.length > 0 ? `<h2>Failed</h2><table><tr><th>input</th><th>code</th><th>message</th></tr>${failures}</table>` : ''}
<h2>Masks${shown.length < c.total - c.failed ? ` (first ${shown.length} images)` : ''}</h2>
${cells.join('\n')}
</body></html>
`;
}
