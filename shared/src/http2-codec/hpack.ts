/**
 * HPACK (RFC 7541): the header compression of HTTP/2, one decoder and one
 * encoder per connection.
 *
 * The decoder keeps the peer's dynamic table and reads every representation
 * (indexed, literal with / without / never indexing, table size updates),
 * Huffman-coded or raw. Anything malformed throws HpackError, which the
 * connection turns into a COMPRESSION_ERROR (the table can no longer be
 * trusted, so the whole connection ends, as RFC 9113 §4.3 requires).
 *
 * The encoder uses the static table only (an exact name and value match is
 * one byte; otherwise the name's index and a raw value), never the dynamic
 * table: nothing to keep per connection, no table state a peer's settings
 * could strand, and nothing sensitive ever indexed.
 */
import { HuffmanError, huffmanDecode } from './huffman.js';

export class HpackError extends Error {
  override name = 'HpackError';
}

/** RFC 7541 Appendix A: index 1..61. */
const STATIC: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];
const STATIC_NAME = new Map<string, number>();
const STATIC_PAIR = new Map<string, number>();
STATIC.forEach(([name, value], i) => {
  if (!STATIC_NAME.has(name)) STATIC_NAME.set(name, i + 1);
  if (value !== '') STATIC_PAIR.set(`${name}\0${value}`, i + 1);
});

/** Per-entry overhead in the table size (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;
/** Integers beyond this are refused (no header or table is that large; it also keeps the arithmetic exact). */
const MAX_INTEGER = 2 ** 30;

/** One header field as decoded, in the order received. */
export type HeaderField = [name: string, value: string];

export class HpackDecoder {
  /** Newest entry last. */
  private readonly table: HeaderField[] = [];
  private size = 0;
  private maxSize: number;

  /** `limit`: SETTINGS_HEADER_TABLE_SIZE as this side advertised it (the most a size update may ask for). */
  constructor(private readonly limit = 4096) {
    this.maxSize = limit;
  }

  /**
   * Decodes one complete header block. `maxListSize` bounds the decoded list (name + value + 32 per field,
   * SETTINGS_MAX_HEADER_LIST_SIZE): past it HpackError with `tooLarge` set; the block is still read to its end first
   * so the table stays in step with the peer's.
   */
  decode(block: Buffer, maxListSize: number): HeaderField[] {
    const fields: HeaderField[] = [];
    let listSize = 0;
    let pos = 0;
    let sawField = false;
    const end = block.length;
    while (pos < end) {
      const b = block[pos]!;
      let name: string;
      let value: string;
      if (b & 0x80) {
        // Indexed header field.
        const [index, next] = readInteger(block, pos, 7);
        pos = next;
        [name, value] = this.entry(index);
      } else if ((b & 0xe0) === 0x20) {
        // Dynamic table size update: only before the first field of a block.
        if (sawField) throw new HpackError('table size update after a header field');
        const [size, next] = readInteger(block, pos, 5);
        pos = next;
        if (size > this.limit) throw new HpackError(`table size update to ${size} is over the advertised ${this.limit}`);
        this.maxSize = size;
        this.evict(0);
        continue;
      } else {
        const incremental = (b & 0x40) !== 0;
        const [index, next] = readInteger(block, pos, incremental ? 6 : 4);
        pos = next;
        if (index === 0) {
          [name, pos] = readString(block, pos);
        } else {
          name = this.entry(index)[0];
        }
        [value, pos] = readString(block, pos);
        if (incremental) this.insert(name, value);
      }
      sawField = true;
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      fields.push([name, value]);
    }
    if (listSize > maxListSize) {
      const err = new HpackError(`header list of ${listSize} bytes is over the limit of ${maxListSize}`);
      (err as HpackError & { tooLarge: boolean }).tooLarge = true;
      throw err;
    }
    return fields;
  }

  private entry(index: number): HeaderField {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC.length) return STATIC[index - 1] as HeaderField;
    const i = index - STATIC.length - 1;
    const e = this.table[this.table.length - 1 - i];
    if (e === undefined) throw new HpackError(`index ${index} is not in the table`);
    return e;
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    this.evict(size);
    // An entry larger than the whole table empties it and is not added (RFC 7541 §4.4).
    if (size > this.maxSize) return;
    this.table.push([name, value]);
    this.size += size;
  }

  /** Evicts the oldest entries until `room` more bytes fit. */
  private evict(room: number): void {
    while (this.table.length > 0 && this.size + room > this.maxSize) {
      const [n, v] = this.table.shift() as HeaderField;
      this.size -= n.length + v.length + ENTRY_OVERHEAD;
    }
  }
}

function readInteger(buf: Buffer, pos: number, prefixBits: number): [number, number] {
  const max = (1 << prefixBits) - 1;
  let value = buf[pos]! & max;
  pos++;
  if (value < max) return [value, pos];
  let shift = 1;
  for (;;) {
    if (pos >= buf.length) throw new HpackError('integer runs past the end of the block');
    const b = buf[pos++]!;
    value += (b & 0x7f) * shift;
    if (value > MAX_INTEGER) throw new HpackError('integer too large');
    if ((b & 0x80) === 0) return [value, pos];
    shift *= 128;
  }
}

function readString(buf: Buffer, pos: number): [string, number] {
  if (pos >= buf.length) throw new HpackError('string runs past the end of the block');
  const huffman = (buf[pos]! & 0x80) !== 0;
  const [length, start] = readInteger(buf, pos, 7);
  const end = start + length;
  if (end > buf.length) throw new HpackError('string runs past the end of the block');
  if (!huffman) return [buf.toString('latin1', start, end), end];
  try {
    return [huffmanDecode(buf, start, end), end];
  } catch (err) {
    if (err instanceof HuffmanError) throw new HpackError(err.message);
    throw err;
  }
}

/** Encodes header blocks with the static table and raw literals ("literal without indexing"). */
export class HpackEncoder {
  private buf = Buffer.allocUnsafe(1024);
  private pos = 0;

  /** One header block from fields in order (names already lowercase and valid, values free of CR, LF and NUL). */
  encode(fields: ReadonlyArray<readonly [string, string]>): Buffer {
    this.pos = 0;
    for (const [name, value] of fields) {
      const pair = STATIC_PAIR.get(`${name}\0${value}`);
      if (pair !== undefined) {
        this.integer(pair, 7, 0x80);
        continue;
      }
      const index = STATIC_NAME.get(name);
      if (index !== undefined) {
        this.integer(index, 4, 0x00);
      } else {
        this.integer(0, 4, 0x00);
        this.string(name);
      }
      this.string(value);
    }
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  private integer(value: number, prefixBits: number, pattern: number): void {
    this.room(6);
    const max = (1 << prefixBits) - 1;
    if (value < max) {
      this.buf[this.pos++] = pattern | value;
      return;
    }
    this.buf[this.pos++] = pattern | max;
    value -= max;
    while (value >= 128) {
      this.buf[this.pos++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buf[this.pos++] = value;
  }

  private string(s: string): void {
    const length = Buffer.byteLength(s, 'latin1');
    this.integer(length, 7, 0x00);
    this.room(length);
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }
}
