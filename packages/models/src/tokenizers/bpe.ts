/**
 * @file ByteBPETokenizer: byte-level byte-pair encoding, GPT-2's scheme in the small form of
 * karpathy/minbpe's RegexTokenizer. Text is taken as UTF-8 bytes, so every string encodes, with no
 * unknown token, and decodes back exactly. Tokens 0..255 are the bytes; merge i joins two older tokens
 * (a, b) into token 256 + i. Text is first split into pieces by GPT-2's pattern (a word with its leading
 * space, a number, a run of punctuation, whitespace) and merges never cross two pieces, so " dog" is
 * one token whether "." or "!" follows it.
 *
 * Training counts each distinct piece once with its frequency, then how often each adjacent pair
 * occurs and in which pieces. A merge rewrites only the pieces that hold its pair and updates the counts
 * by what changed there, and a heap finds the next most frequent pair: a megabyte of text and a couple
 * of thousand merges take seconds on one core, where recounting the text per merge would take minutes.
 */

import { describeValue, fail } from "@tsgrad/core";

/** Ids fit in 16 bits: 256 bytes and at most this many merges. */
export const MAX_MERGES = (1 << 16) - 256;

/**
 * The longest token a merge may make, in bytes: twice the longest piece training merges within
 * (MAX_PIECE_BYTES), so every trained vocabulary fits, while a file of merges that double a token's
 * length each time cannot make a vocabulary of exabytes (all merges together then hold at most
 * 65,280 × 256 bytes, 16 MiB).
 */
export const MAX_TOKEN_BYTES = 256;

/** GPT-2's split (openai/gpt-2 encoder.py), with the contractions folded into one group. */
const GPT2_SPLIT = /'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

// NOTE: a longer piece (a run of letters without a space, a line of dashes) is cut into chunks of this
// many bytes. Merging a chunk is quadratic in its length, so uncut, one long line could stall encoding;
// cut, merges still apply within each chunk, and the bytes, so the text, come back whole.
const MAX_PIECE_BYTES = 128;

const utf8 = new TextEncoder();
// ignoreBOM: a text that starts with U+FEFF must decode with it, not have it dropped as a byte-order mark
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

export interface ByteBPETokenizerJson {
  type: "byte-bpe";
  /** Merge i: the two token ids that token 256 + i joins. */
  merges: [number, number][];
}

/** A pair of ids as one number (both < 2^16), ordered as (a, b) is, for the counts' maps and the heap. */
const pairKey = (a: number, b: number) => a * 65536 + b;

export class ByteBPETokenizer {
  readonly type = "byte-bpe";
  readonly merges: readonly (readonly [number, number])[];
  /** Token id → the bytes it stands for. */
  readonly #bytes: Uint8Array[];
  /** pairKey(a, b) → the merge's index: the earlier a merge was learned, the earlier it applies. */
  readonly #ranks = new Map<number, number>();
  /** Encoded pieces: a corpus repeats its words, and merging them again is most of encoding's time. */
  readonly #cache = new Map<string, number[]>();

  constructor(merges: readonly (readonly [number, number])[]) {
    if (!Array.isArray(merges)) fail("ByteBPETokenizer", "expected an array of merges [a, b]");
    if (merges.length > MAX_MERGES) fail("ByteBPETokenizer", `at most ${MAX_MERGES} merges, got ${merges.length}`);
    this.#bytes = Array.from({ length: 256 }, (_, byte) => Uint8Array.of(byte));
    merges.forEach((merge, i) => {
      const id = 256 + i;
      const ok = Array.isArray(merge) && merge.length === 2 && merge.every((t) => Number.isInteger(t) && t >= 0 && t < id);
      if (!ok) fail("ByteBPETokenizer", `merge ${i} must be two ids of earlier tokens, in [0, ${id}), got ${describeValue(merge)}`);
      const [a, b] = merge;
      const length = this.#bytes[a].length + this.#bytes[b].length;
      if (length > MAX_TOKEN_BYTES)
        fail("ByteBPETokenizer", `merge ${i} (${a}, ${b}) makes a token of ${length} bytes; a token has at most ${MAX_TOKEN_BYTES}`);
      const earlier = this.#ranks.get(pairKey(a, b));
      // the later copy could never apply: the earlier one always merges the pair first
      if (earlier !== undefined) fail("ByteBPETokenizer", `merge ${i} repeats merge ${earlier} (${a}, ${b})`);
      this.#ranks.set(pairKey(a, b), i);
      const joined = new Uint8Array(length);
      joined.set(this.#bytes[a]);
      joined.set(this.#bytes[b], this.#bytes[a].length);
      this.#bytes.push(joined);
    });
    this.merges = merges.map(([a, b]) => [a, b] as const);
  }

  get vocabSize(): number {
    return 256 + this.merges.length;
  }

  /**
   * Learns up to numMerges merges from a corpus, most frequent pair first (ties go to the smaller pair,
   * so the same text always gives the same merges). Stops early when no pair occurs twice.
   */
  static train(text: string, numMerges: number): ByteBPETokenizer {
    const OP = "ByteBPETokenizer.train";
    if (typeof text !== "string") fail(OP, `expected a string, got ${typeof text}`);
    checkUnicode(OP, text);
    if (!(Number.isInteger(numMerges) && numMerges >= 0 && numMerges <= MAX_MERGES)) {
      fail(OP, `numMerges must be an integer in [0, ${MAX_MERGES}], got ${numMerges}`);
    }

    // 1. each distinct piece once, as bytes, with how often it occurs
    const pieceCounts = new Map<string, number>();
    for (const piece of splitText(text)) pieceCounts.set(piece, (pieceCounts.get(piece) ?? 0) + 1);
    const words: number[][] = [];
    const freqs: number[] = [];
    for (const [piece, n] of pieceCounts) {
      for (const chunk of chunksOf(utf8.encode(piece))) {
        words.push(Array.from(chunk));
        freqs.push(n);
      }
    }

    // 2. how often each adjacent pair occurs, and in which words
    const pairCounts = new Map<number, number>();
    const pairWords = new Map<number, Set<number>>();
    const noteWord = (key: number, w: number) => {
      const set = pairWords.get(key);
      if (set) set.add(w);
      else pairWords.set(key, new Set([w]));
    };
    words.forEach((word, w) => {
      for (let i = 0; i + 1 < word.length; i++) {
        const key = pairKey(word[i], word[i + 1]);
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + freqs[w]);
        noteWord(key, w);
      }
    });
    const heap = new PairHeap();
    for (const [key, count] of pairCounts) heap.push(count, key);

    // 3. merge the most frequent pair, then update the counts of the words it changed
    const merges: [number, number][] = [];
    while (merges.length < numMerges) {
      const best = heap.popCurrent(pairCounts);
      if (best === null || best.count < 2) break;
      const a = Math.floor(best.key / 65536);
      const b = best.key % 65536;
      const id = 256 + merges.length;
      merges.push([a, b]);
      const delta = new Map<number, number>(); // pair -> change in its count
      const bump = (key: number, by: number) => delta.set(key, (delta.get(key) ?? 0) + by);
      for (const w of pairWords.get(best.key) ?? []) {
        const word = words[w];
        const merged = mergePair(word, a, b, id);
        if (merged.length === word.length) continue; // the pair left this word in an earlier merge
        for (let i = 0; i + 1 < word.length; i++) bump(pairKey(word[i], word[i + 1]), -freqs[w]);
        for (let i = 0; i + 1 < merged.length; i++) {
          const key = pairKey(merged[i], merged[i + 1]);
          bump(key, freqs[w]);
          noteWord(key, w);
        }
        words[w] = merged;
      }
      for (const [key, change] of delta) {
        if (change === 0) continue;
        const count = (pairCounts.get(key) ?? 0) + change;
        if (count > 0) {
          pairCounts.set(key, count);
          heap.push(count, key);
        } else {
          pairCounts.delete(key);
          pairWords.delete(key);
        }
      }
    }
    return new ByteBPETokenizer(merges);
  }

  encode(text: string): number[] {
    if (typeof text !== "string") fail("ByteBPETokenizer.encode", `expected a string, got ${typeof text}`);
    checkUnicode("ByteBPETokenizer.encode", text);
    const ids: number[] = [];
    for (const piece of splitText(text)) {
      let pieceIds = this.#cache.get(piece);
      if (!pieceIds) {
        pieceIds = chunksOf(utf8.encode(piece)).flatMap((chunk) => this.#mergeChunk(chunk));
        if (this.#cache.size >= 1 << 16) this.#cache.clear(); // bounded: any text may come through here
        this.#cache.set(piece, pieceIds);
      }
      for (const id of pieceIds) ids.push(id);
    }
    return ids;
  }

  /** Applies the merges to one chunk's bytes, earliest-learned pair first, as training applied them. */
  #mergeChunk(bytes: Uint8Array): number[] {
    let ids = Array.from(bytes);
    while (ids.length >= 2) {
      let rank = Number.POSITIVE_INFINITY;
      for (let i = 0; i + 1 < ids.length; i++) rank = Math.min(rank, this.#ranks.get(pairKey(ids[i], ids[i + 1])) ?? rank);
      if (rank === Number.POSITIVE_INFINITY) break;
      const [a, b] = this.merges[rank];
      ids = mergePair(ids, a, b, 256 + rank);
    }
    return ids;
  }

  /** The text of some ids. Bytes that are not whole UTF-8 (a sample cut mid-character) decode as U+FFFD. */
  decode(ids: readonly number[]): string {
    const parts = ids.map((id) => {
      if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize))
        fail("ByteBPETokenizer.decode", `id ${id} is not in [0, ${this.vocabSize})`);
      return this.#bytes[id];
    });
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    return utf8Decoder.decode(bytes);
  }

  toJSON(): ByteBPETokenizerJson {
    return { type: "byte-bpe", merges: this.merges.map(([a, b]) => [a, b]) };
  }
}

/** A lone surrogate is not text: UTF-8 cannot hold it, so it would come back as U+FFFD. */
function checkUnicode(where: string, text: string): void {
  const lone = /[\uD800-\uDFFF]/u.exec(text);
  if (lone)
    fail(
      where,
      `the text holds a lone surrogate (0x${lone[0].charCodeAt(0).toString(16)}) at index ${lone.index}: it is not Unicode text, and UTF-8 cannot encode it`,
    );
}

/** GPT-2's pieces, which together are the whole text. */
function splitText(text: string): string[] {
  const pieces: string[] = [];
  let end = 0;
  for (const m of text.matchAll(GPT2_SPLIT)) {
    // the pattern matches every character, so there is no gap; kept so that a gap could not lose text
    if (m.index > end) pieces.push(text.slice(end, m.index));
    pieces.push(m[0]);
    end = m.index + m[0].length;
  }
  if (end < text.length) pieces.push(text.slice(end));
  return pieces;
}

function chunksOf(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length <= MAX_PIECE_BYTES) return [bytes];
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += MAX_PIECE_BYTES) chunks.push(bytes.subarray(i, i + MAX_PIECE_BYTES));
  return chunks;
}

/** The ids with each (a, b), left to right and without overlap, replaced by id. */
function mergePair(ids: readonly number[], a: number, b: number, id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === b) {
      out.push(id);
      i++;
    } else {
      out.push(ids[i]);
    }
  }
  return out;
}

/**
 * A binary max-heap of (count, pair) entries: the highest count on top, ties to the smaller pair. A
 * count that changes is pushed again rather than updated in place, so older entries go stale;
 * popCurrent skips every entry whose count is no longer the pair's.
 */
class PairHeap {
  #counts: number[] = [];
  #keys: number[] = [];

  push(count: number, key: number): void {
    this.#counts.push(count);
    this.#keys.push(key);
    let i = this.#counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#above(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  /** The best entry that is still current, or null when none is left. */
  popCurrent(current: ReadonlyMap<number, number>): { count: number; key: number } | null {
    while (this.#counts.length > 0) {
      const top = { count: this.#counts[0], key: this.#keys[0] };
      this.#removeTop();
      if (current.get(top.key) === top.count) return top;
    }
    return null;
  }

  #removeTop(): void {
    const last = this.#counts.length - 1;
    this.#swap(0, last);
    this.#counts.pop();
    this.#keys.pop();
    let i = 0;
    for (;;) {
      const [left, right] = [2 * i + 1, 2 * i + 2];
      let best = i;
      if (left < last && this.#above(left, best)) best = left;
      if (right < last && this.#above(right, best)) best = right;
      if (best === i) return;
      this.#swap(i, best);
      i = best;
    }
  }

  #above(i: number, j: number): boolean {
    const [ci, cj] = [this.#counts[i], this.#counts[j]];
    return ci > cj || (ci === cj && this.#keys[i] < this.#keys[j]);
  }

  #swap(i: number, j: number): void {
    [this.#counts[i], this.#counts[j]] = [this.#counts[j], this.#counts[i]];
    [this.#keys[i], this.#keys[j]] = [this.#keys[j], this.#keys[i]];
  }
}
