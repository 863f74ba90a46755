/**
 * HPACK's static Huffman code (RFC 7541 §5.2, Appendix B), decode only: the
 * agent writes string literals raw (their length costs a few bytes, the
 * encoding costs CPU on every header), and reads whatever a peer sends.
 *
 * The appendix's code is canonical (codes of one length are consecutive and
 * follow the shorter ones, in symbol order), so it is fully given by each
 * symbol's code length; the codes are derived here from the lengths. The
 * lengths were read off node's own HPACK encoder (nghttp2) and checked as a
 * whole: they satisfy Kraft's equality (a complete prefix code) and EOS
 * (symbol 256) comes out as thirty 1 bits, as the appendix says; the unit
 * test decodes what nghttp2 encodes for every byte value.
 */

/** Code length in bits of symbols 0..255 and EOS (256). */
const LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10,
  12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7,
  7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22,
  23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22,
  23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20,
  24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];
const MAX_LENGTH = 30;
const EOS = 256;

/** Canonical decoding tables, by code length: the first code, how many codes, where their symbols start in SYMBOLS. */
const FIRST_CODE = new Array<number>(MAX_LENGTH + 1).fill(0);
const COUNT = new Array<number>(MAX_LENGTH + 1).fill(0);
const FIRST_INDEX = new Array<number>(MAX_LENGTH + 1).fill(0);
/** Symbols ordered by (code length, symbol): the canonical order. */
const SYMBOLS: number[] = [];
{
  for (const len of LENGTHS) COUNT[len]! += 1;
  let code = 0;
  let index = 0;
  for (let len = 1; len <= MAX_LENGTH; len++) {
    FIRST_CODE[len] = code;
    FIRST_INDEX[len] = index;
    for (let sym = 0; sym < LENGTHS.length; sym++) if (LENGTHS[sym] === len) SYMBOLS.push(sym);
    index += COUNT[len]!;
    code = (code + COUNT[len]!) * 2;
  }
}
const MIN_LENGTH = Math.min(...LENGTHS);

export class HuffmanError extends Error {
  override name = 'HuffmanError';
}

/** Decodes a Huffman-coded string literal; throws HuffmanError on EOS inside it or bad padding (RFC 7541 §5.2). */
export function huffmanDecode(src: Buffer, start: number, end: number): string {
  const out = Buffer.allocUnsafe(Math.ceil(((end - start) * 8) / MIN_LENGTH));
  let n = 0;
  // Pending bits: `acc` holds `bits` bits (at most MAX_LENGTH + 8, so it stays an exact integer in a double).
  let acc = 0;
  let bits = 0;
  for (let i = start; i < end; i++) {
    acc = acc * 256 + src[i]!;
    bits += 8;
    for (;;) {
      let matched = false;
      for (let len = MIN_LENGTH; len <= bits && len <= MAX_LENGTH; len++) {
        const count = COUNT[len]!;
        if (count === 0) continue;
        const shift = 2 ** (bits - len);
        const code = Math.floor(acc / shift);
        const offset = code - FIRST_CODE[len]!;
        if (offset < count) {
          const sym = SYMBOLS[FIRST_INDEX[len]! + offset]!;
          if (sym === EOS) throw new HuffmanError('EOS inside a Huffman-coded string');
          out[n++] = sym;
          acc -= code * shift;
          bits -= len;
          matched = true;
          break;
        }
      }
      if (!matched) break;
    }
    if (bits > MAX_LENGTH) throw new HuffmanError('invalid Huffman code');
  }
  // What is left must be the most significant bits of EOS (all ones), shorter than a byte.
  if (bits > 7 || acc !== 2 ** bits - 1) throw new HuffmanError('invalid Huffman padding');
  return out.toString('latin1', 0, n);
}
