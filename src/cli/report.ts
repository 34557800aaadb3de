/**
 * The eval report a person reads: one self-contained HTML file with the mean scores per mode,
 * and per image a row of overlays (ground truth, then each mode's prediction) with its Dice.
 */
import { resizeImage } from '../core/image.js';
import { resizeMaskNearest } from '../core/mask.js';
import { renderOverlay } from '../core/overlay.js';
import type { BinaryMask } from '../core/types.js';
import { encodePng } from '../io/image-codecs.js';
import type { EvalItem, EvalMode, EvalReport } from '../pipeline/evaluate.js';

export interface ReportPanel {
  name: string;
  modes: Partial<Record<EvalMode, { dice: number; iou: number; mask: BinaryMask }>>;
}

const THUMB = 160;

function thumbnail(item: EvalItem, size: number | undefined, mask: BinaryMask | undefined, color: [number, number, number]): string {
  let image = item.image;
  if (size) image = resizeImage(image, size, size, 'bilinear');
  const scale = THUMB / Math.max(image.width, image.height);
  const w = Math.max(1, Math.round(image.width * scale));
  const h = Math.max(1, Math.round(image.height * scale));
  const small = resizeImage(image, w, h, 'bilinear');
  const layers = mask ? [{ mask: resizeMaskNearest(mask, w, h), color, fillAlpha: 0.35, outline: 1 }] : [];
  const png = encodePng(renderOverlay(small, layers));
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** The HTML report (images embedded as data URIs, so it is one file). */
export function renderEvalHtml(report: EvalReport, panels: ReportPanel[], itemOf: (name: string) => EvalItem, size: number | undefined): string {
  const modes = report.modes;
  const meanRows = modes.map((m) => `<tr><td>${m}</td><td>${report.mean[m]!.dice.toFixed(4)}</td><td>${report.mean[m]!.iou.toFixed(4)}</td></tr>`).join('');
  const rows = panels
    .map((p) => {
      const item = itemOf(p.name);
      const gt = size ? resizeMaskNearest(item.groundTruth, size, size) : item.groundTruth;
      const cells = [
        `<td><img src="${thumbnail(item, size, gt, [0, 220, 0])}"><br>ground truth</td>`,
        ...modes.map((m) => {
          const r = p.modes[m];
          return `<td><img src="${thumbnail(item, size, r?.mask, [0, 170, 255])}"><br>${m}: ${r ? r.dice.toFixed(3) : 'n/a'}</td>`;
        }),
      ];
      return `<tr><th>${escapeHtml(p.name)}</th>${cells.join('')}</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>salip eval: ${escapeHtml(report.task)}</title>
<style>body{font:14px sans-serif;margin:1em}table{border-collapse:collapse}td,th{padding:4px;text-align:center;vertical-align:top}th{text-align:left}img{display:block}</style>
</head><body>
<h1>salip eval: ${escapeHtml(report.task)}</h1>
<p>${report.count} images${size ? ` at ${size} x ${size}` : ''}${report.exemplarNames.length ? `; exemplars (not scored): ${report.exemplarNames.map(escapeHtml).join(', ')}` : ''}</p>
<table border="1"><tr><th>mode</th><th>mean Dice</th><th>mean IoU</th></tr>${meanRows}</table>
${report.meanDecoderCalls !== undefined ? `<p>cascade: ${report.meanDecoderCalls.toFixed(1)} decoder runs per image</p>` : ''}
<h2>Per image</h2>
<table>${rows}</table>
</body></html>
`;
}
