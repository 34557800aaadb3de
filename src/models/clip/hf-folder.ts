/**
 * CLIP as users download it from Hugging Face / transformers.js: a folder with tokenizer.json,
 * preprocessor_config.json and config.json beside onnx/vision_model.onnx and onnx/text_model.onnx.
 * The image preprocessing and the context length are read from these files instead of assumed.
 */
import { SalipError } from '../../core/errors.js';
import type { ResizeKernel } from '../../core/image.js';

/** Image preprocessing as a CLIPImageProcessor's preprocessor_config.json describes it. */
export interface ClipImageProcessing {
  /** Side of the square tower input (crop_size, or size when there is no crop). */
  readonly size: number;
  /** Shortest side after the resize, before the centre crop. */
  readonly shortestEdge: number;
  readonly centerCrop: boolean;
  readonly kernel: ResizeKernel;
  readonly mean: [number, number, number];
  readonly std: [number, number, number];
  /** rescale_factor (1 / 255), or 1 when do_rescale is false. */
  readonly scale: number;
}

const bad = (what: string, expected: string, found: unknown): SalipError =>
  new SalipError('UNSUPPORTED_FORMAT', `preprocessor_config.json: ${what}: expected ${expected}, found ${JSON.stringify(found)}`);

/** PIL's resample codes (the values transformers writes): 2 bilinear, 3 bicubic. */
const RESAMPLE: Readonly<Record<number, ResizeKernel>> = { 2: 'bilinear', 3: 'bicubic' };

/** A size entry: a number, { shortest_edge }, or { height, width } of a square. */
function sideOf(value: unknown, what: string): { side: number; shortest: boolean } {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return { side: value, shortest: true };
  const v = value as { shortest_edge?: unknown; height?: unknown; width?: unknown } | null;
  if (v && typeof v.shortest_edge === 'number' && Number.isInteger(v.shortest_edge) && v.shortest_edge > 0) return { side: v.shortest_edge, shortest: true };
  if (v && typeof v.height === 'number' && Number.isInteger(v.height) && v.height > 0 && v.height === v.width) return { side: v.height, shortest: false };
  throw bad(what, 'a positive integer, { shortest_edge } or a square { height, width }', value);
}

function triple(value: unknown, what: string, positive: boolean): [number, number, number] {
  if (!Array.isArray(value) || value.length !== 3 || !value.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0))) {
    throw bad(what, `three ${positive ? 'positive ' : ''}numbers`, value);
  }
  return value as [number, number, number];
}

/** Reads a CLIPImageProcessor's preprocessor_config.json (object or text). */
export function parsePreprocessorConfig(json: unknown): ClipImageProcessing {
  const config = (typeof json === 'string' ? parseJson(json, 'preprocessor_config.json') : json) as Record<string, unknown>;
  if (config === null || typeof config !== 'object') throw bad('the file', 'a JSON object', config);
  if (config.do_resize === false) throw bad('do_resize', 'true (the towers take a fixed size)', config.do_resize);
  const resize = sideOf(config.size, 'size');
  const centerCrop = config.do_center_crop !== false;
  const crop = centerCrop ? sideOf(config.crop_size ?? resize.side, 'crop_size').side : resize.side;
  if (!centerCrop && resize.shortest) throw bad('size', 'a square { height, width } when do_center_crop is false', config.size);
  const resample = config.resample ?? 3;
  const kernel = RESAMPLE[resample as number];
  if (!kernel) throw bad('resample', '2 (bilinear) or 3 (bicubic)', resample);
  const normalize = config.do_normalize !== false;
  const scale = config.do_rescale === false ? 1 : (config.rescale_factor ?? 1 / 255);
  if (typeof scale !== 'number' || !(scale > 0)) throw bad('rescale_factor', 'a positive number', scale);
  return {
    size: crop,
    shortestEdge: resize.side,
    centerCrop,
    kernel,
    mean: normalize ? triple(config.image_mean, 'image_mean', false) : [0, 0, 0],
    std: normalize ? triple(config.image_std, 'image_std', true) : [1, 1, 1],
    scale,
  };
}

/** What config.json says that the graphs may not: the text context length and the image size. */
export function parseHfClipConfig(json: unknown): { contextLength?: number; imageSize?: number } {
  const config = (typeof json === 'string' ? parseJson(json, 'config.json') : json) as {
    text_config?: { max_position_embeddings?: unknown };
    vision_config?: { image_size?: unknown };
  };
  const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);
  return { contextLength: int(config?.text_config?.max_position_embeddings), imageSize: int(config?.vision_config?.image_size) };
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new SalipError('DECODE_FAILED', `${file}: expected JSON text, could not parse it`, { cause });
  }
}

/** A path or URL inside `folder` (string paths keep their separator style). */
export function inFolder(folder: string | URL, ...parts: string[]): string | URL {
  if (folder instanceof URL) return new URL(parts.join('/'), folder.href.endsWith('/') ? folder : new URL(`${folder.href}/`));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(folder)) return inFolder(new URL(folder), ...parts);
  const sep = folder.includes('\\') && !folder.includes('/') ? '\\' : '/';
  return [folder.replace(/[/\\]+$/, ''), ...parts].join(sep);
}

/** The companion files of a transformers.js CLIP folder, read and parsed. */
export interface HfClipFolder {
  readonly tokenizerJson: string;
  readonly tokenizerSource: string;
  readonly processing: ClipImageProcessing;
  readonly processingSource: string;
  readonly contextLength?: number;
  readonly vision: string | URL;
  readonly text: string | URL;
}

/** Reads tokenizer.json, preprocessor_config.json and (optionally) config.json of a CLIP folder. */
export async function readHfClipFolder(backend: { readBytes(source: string | URL): Promise<Uint8Array> }, folder: string | URL): Promise<HfClipFolder> {
  const read = async (name: string, required: boolean): Promise<string | undefined> => {
    const location = inFolder(folder, name);
    try {
      return new TextDecoder().decode(await backend.readBytes(location));
    } catch (error) {
      if (!required) return undefined;
      throw new SalipError('FILE_NOT_FOUND', `clip folder ${String(folder)}: expected ${name} (a Hugging Face / transformers.js CLIP export folder), could not read ${String(location)}`, {
        cause: error,
      });
    }
  };
  const [tokenizerJson, preprocessor, config] = await Promise.all([read('tokenizer.json', true), read('preprocessor_config.json', true), read('config.json', false)]);
  return {
    tokenizerJson: tokenizerJson!,
    tokenizerSource: `tokenizer.json at ${String(inFolder(folder, 'tokenizer.json'))}`,
    processing: parsePreprocessorConfig(preprocessor!),
    processingSource: `preprocessor_config.json at ${String(inFolder(folder, 'preprocessor_config.json'))}`,
    contextLength: config === undefined ? undefined : parseHfClipConfig(config).contextLength,
    vision: inFolder(folder, 'onnx', 'vision_model.onnx'),
    text: inFolder(folder, 'onnx', 'text_model.onnx'),
  };
}
