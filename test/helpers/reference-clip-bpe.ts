/**
 * An independent reference of OpenAI CLIP's tokenizer (simple_tokenizer.py), written for the
 * tests from the algorithm rather than through @huggingface/tokenizers: clean whitespace,
 * lower-case, split with CLIP's pattern, map each piece's UTF-8 bytes through GPT-2's
 * bytes_to_unicode table, then merge greedily by rank with '</w>' on the last symbol. Only the
 * vocabulary and merge list are taken from the tokenizer.json under test (they are data).
 */

const START = 49406;
const END = 49407;

/** GPT-2's reversible byte -> printable character table. */
function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const table = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = keep.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + extra++);
  }
  return table;
}

const PIECE = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

export class ReferenceClipBpe {
  private readonly byteChars = bytesToUnicode();
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();

  constructor(
    private readonly vocab: Readonly<Record<string, number>>,
    merges: ReadonlyArray<readonly [string, string] | string>,
  ) {
    merges.forEach((m, i) => this.ranks.set(Array.isArray(m) ? `${m[0]} ${m[1]}` : (m as string), i));
  }

  /** Symbols of one piece after merging: characters, the last with '</w>', merged by lowest rank first. */
  private bpe(piece: string): string[] {
    const cached = this.cache.get(piece);
    if (cached) return cached;
    let word = [...piece];
    word[word.length - 1] += '</w>';
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const a = word[best];
      const b = word[best + 1];
      // Merge every occurrence of the pair, left to right, as simple_tokenizer does.
      const next: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(word[i]);
      }
      word = next;
    }
    this.cache.set(piece, word);
    return word;
  }

  /** Ids of a text without the start/end tokens. */
  tokens(text: string): number[] {
    const clean = text.replace(/\s+/gu, ' ').trim().toLowerCase();
    const ids: number[] = [];
    for (const match of clean.matchAll(PIECE)) {
      const bytes = new TextEncoder().encode(match[0]);
      const piece = Array.from(bytes, (b) => this.byteChars[b]).join('');
      for (const symbol of this.bpe(piece)) {
        const id = this.vocab[symbol];
        if (id === undefined) throw new Error(`reference BPE: no vocabulary entry for ${JSON.stringify(symbol)}`);
        ids.push(id);
      }
    }
    return ids;
  }

  /** A CLIP row: start, tokens (truncated to fit), end, padding with `padId` to `contextLength`. */
  row(text: string, contextLength = 77, padId = END): number[] {
    const body = this.tokens(text).slice(0, contextLength - 2);
    const row = [START, ...body, END];
    while (row.length < contextLength) row.push(padId);
    return row;
  }
}
