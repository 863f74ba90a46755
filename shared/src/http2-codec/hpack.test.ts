import assert from 'node:assert/strict';
import { connect as h2connect, type OutgoingHttpHeaders } from 'node:http2';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { fieldsOf } from './fields.js';
import { Flag, FrameType, frame, PREFACE } from './frames.js';
import { type HeaderField, HpackDecoder, HpackEncoder, HpackError } from './hpack.js';

// ---- block builders (from the representation rules of RFC 7541 §5-6, written here) ----

/** An HPACK integer with a `prefixBits`-bit prefix whose high bits are `pattern`. */
function int(value: number, prefixBits: number, pattern = 0): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [pattern | value];
  const out = [pattern | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** A raw (not Huffman-coded) string literal. */
function raw(s: string): number[] {
  const b = Buffer.from(s, 'latin1');
  return [...int(b.length, 7), ...b];
}

/** A Huffman-flagged string literal of the given coded bytes. */
function huff(bytes: number[]): number[] {
  return [...int(bytes.length, 7, 0x80), ...bytes];
}

const indexed = (i: number) => int(i, 7, 0x80);
/** Literal with incremental indexing, new name. */
const incNew = (name: string, value: string) => [0x40, ...raw(name), ...raw(value)];
/** Literal without indexing, new name. */
const litNew = (name: string, value: string) => [0x00, ...raw(name), ...raw(value)];
const sizeUpdate = (n: number) => int(n, 5, 0x20);

/**
 * The canonical Huffman code's shortest codes: the code is canonical (RFC 7541 §5.2) and its shortest length is 5
 * bits, so the 5-bit codes are 0, 1, 2, ... in symbol order, for the ten symbols of that length.
 */
const FIVE_BIT = ['0', '1', '2', 'a', 'c', 'e', 'i', 'o', 's', 't'];

/** Packs a string of 5-bit symbols, then `padBits` bits of `padBit`, into bytes (the total must be whole bytes). */
function pack5(text: string, padBits: number, padBit: 0 | 1, extraBits = ''): number[] {
  let bits = '';
  for (const ch of text) {
    const code = FIVE_BIT.indexOf(ch);
    assert.ok(code >= 0, `${ch} has no 5-bit code`);
    bits += code.toString(2).padStart(5, '0');
  }
  bits += extraBits + String(padBit).repeat(padBits);
  assert.equal(bits.length % 8, 0, 'whole bytes');
  const out: number[] = [];
  for (let i = 0; i < bits.length; i += 8) out.push(Number.parseInt(bits.slice(i, i + 8), 2));
  return out;
}

function decodeOne(bytes: number[], maxList = 1 << 20, decoder = new HpackDecoder()): HeaderField[] {
  return decoder.decode(Buffer.from(bytes), maxList);
}

function throwsHpack(fn: () => unknown, what: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof HpackError, `HpackError expected, got ${String(err)}`);
    assert.match(err.message, what);
    return true;
  });
}

// ---- capturing what node:http2 (nghttp2) sends ----

interface Capture {
  /** Decoded requests, in the order their HEADERS arrived. */
  requests: HeaderField[][];
  /** The raw header blocks, same order. */
  blocks: Buffer[];
}

/**
 * A raw HTTP/2 "server": reads the preface and frames, sends an empty SETTINGS and ACKs the client's, feeds every
 * header block (HEADERS + CONTINUATION, padding and priority fields removed) to one HpackDecoder per connection, in
 * order, and answers each request with `:status: 200` and END_STREAM.
 */
async function withCapture(run: (port: number, capture: Capture) => Promise<void>): Promise<Capture> {
  const capture: Capture = { requests: [], blocks: [] };
  const sockets = new Set<Socket>();
  const errors: unknown[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new HpackDecoder(4096);
    const answer = new HpackEncoder();
    let buf = Buffer.alloc(0);
    let prefaceSeen = false;
    let block: { id: number; parts: Buffer[] } | null = null;
    socket.write(frame(FrameType.SETTINGS, 0, 0));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        if (!prefaceSeen) {
          if (buf.length < PREFACE.length) return;
          assert.ok(buf.subarray(0, PREFACE.length).equals(PREFACE), 'client preface');
          buf = buf.subarray(PREFACE.length);
          prefaceSeen = true;
        }
        while (buf.length >= 9) {
          const length = buf.readUIntBE(0, 3);
          if (buf.length < 9 + length) break;
          const type = buf[3]!;
          const flags = buf[4]!;
          const id = buf.readUInt32BE(5) & 0x7fffffff;
          let payload = buf.subarray(9, 9 + length);
          buf = buf.subarray(9 + length);
          if (type === FrameType.SETTINGS && (flags & Flag.ACK) === 0) socket.write(frame(FrameType.SETTINGS, Flag.ACK, 0));
          if (type === FrameType.HEADERS) {
            if (flags & Flag.PADDED) payload = payload.subarray(1, payload.length - payload[0]!);
            if (flags & Flag.PRIORITY) payload = payload.subarray(5);
            block = { id, parts: [Buffer.from(payload)] };
          } else if (type === FrameType.CONTINUATION) {
            assert.ok(block !== null && block.id === id, 'CONTINUATION follows HEADERS');
            block.parts.push(Buffer.from(payload));
          } else continue;
          if (flags & Flag.END_HEADERS) {
            const whole = Buffer.concat(block.parts);
            block = null;
            capture.blocks.push(whole);
            capture.requests.push(decoder.decode(whole, 1 << 20));
            socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, id, answer.encode([[':status', '200']])));
          }
        }
      } catch (err) {
        errors.push(err);
        socket.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await run((server.address() as AddressInfo).port, capture);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
  if (errors.length > 0) throw errors[0];
  return capture;
}

/** Sends `requests` on one node:http2 connection, one after another; returns the headers node accepted (undefined: node refused). */
async function sendAll(port: number, requests: OutgoingHttpHeaders[]): Promise<Array<OutgoingHttpHeaders | undefined>> {
  const client = h2connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  const sent: Array<OutgoingHttpHeaders | undefined> = [];
  try {
    for (const headers of requests) {
      let req: ReturnType<typeof client.request>;
      try {
        req = client.request(headers, { endStream: true });
      } catch {
        sent.push(undefined);
        continue;
      }
      const ok = await new Promise<boolean>((resolve) => {
        req.on('response', () => resolve(true));
        req.on('error', () => resolve(false));
        req.on('close', () => resolve(false));
        req.resume();
      });
      assert.ok(ok, `request ${JSON.stringify(headers)} got its response`);
      sent.push(headers);
    }
  } finally {
    client.destroy();
  }
  return sent;
}

/** The decoded value of `name` in a request (the one field of that name). */
function fieldValue(fields: HeaderField[], name: string): string | undefined {
  const all = fields.filter(([n]) => n === name);
  assert.ok(all.length <= 1, `one ${name}`);
  return all[0]?.[1];
}

describe('HPACK decoding of what node:http2 (nghttp2) encodes', () => {
  it('decodes Huffman-coded values holding every byte value node accepts', async () => {
    const values = new Map<number, string>();
    for (let b = 1; b <= 255; b++) values.set(b, '0'.repeat(100) + String.fromCharCode(b) + 'abc');
    const realistic = [
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
      'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
      'Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ',
      'session=6f1c2a9e0b7d4e3f8a5c1b2d9e0f7a6b; theme=dark; lang=en-GB; _ga=GA1.2.1234567890.1700000000',
      `/api/v1/search?q=${encodeURIComponent('ünïcödé & spaces / slashes')}&page=2&sort=-created_at`,
    ];
    let sent: Array<OutgoingHttpHeaders | undefined> = [];
    const requests: OutgoingHttpHeaders[] = [...values.values()].map((v) => ({ ':path': '/', 'x-probe': v }));
    for (const [i, v] of realistic.entries()) requests.push({ ':path': '/r', [`x-real-${i}`]: v });
    const capture = await withCapture(async (port) => {
      sent = await sendAll(port, requests);
    });
    const accepted = sent.filter((s) => s !== undefined);
    assert.equal(capture.requests.length, accepted.length, 'one header block per request node sent');
    let probes = 0;
    let acceptedBytes = 0;
    for (const [i, fields] of capture.requests.entries()) {
      const headers = accepted[i]!;
      for (const [name, value] of Object.entries(headers)) {
        if (name.startsWith(':')) continue;
        assert.equal(fieldValue(fields, name), value, `${name} decoded as sent`);
        // Each probe value is new to the table: a block shorter than the value means it was Huffman-coded.
        if (name === 'x-probe') {
          probes++;
          assert.ok(
            capture.blocks[i]!.length < (value as string).length,
            `the value with byte ${(value as string).charCodeAt(100)} was Huffman-coded`,
          );
        }
      }
    }
    for (let b = 1; b <= 255; b++) {
      const i = requests.findIndex((r) => r['x-probe'] === values.get(b));
      if (sent[i] !== undefined) acceptedBytes++;
    }
    // node 20 sends all 255 (nghttp2 does not check what it sends); a node that refused NUL, CR and LF would still pass.
    assert.ok(acceptedBytes >= 252, `node sent ${acceptedBytes} of the 255 byte values`);
    assert.equal(probes, acceptedBytes);
    for (const [i, v] of realistic.entries()) assert.ok(capture.requests.some((f) => fieldValue(f, `x-real-${i}`) === v));
  });

  it('follows nghttp2 dynamic table across many requests (indexing and eviction)', async () => {
    const requests: OutgoingHttpHeaders[] = [];
    const common = {
      'user-agent': 'weft-hpack-test/1.0 (dynamic table; repeated on every request)',
      authorization: 'Bearer a-token-that-is-repeated-on-every-single-request-0123456789',
      'x-tenant': 'tenant-42',
    };
    for (let i = 0; i < 300; i++) {
      const h: OutgoingHttpHeaders = { ':path': `/items/${i % 7}`, ...common };
      // A value that changes each time fills the table and evicts older entries (4096 bytes hold ~40 of them).
      h['x-request-id'] = `req-${i.toString(16).padStart(8, '0')}-${'x'.repeat(i % 50)}`;
      // Some names and values come back after being evicted.
      h[`x-rotating-${i % 13}`] = `value-${i % 29}`;
      if (i % 5 === 0) h.cookie = [`a=${i % 3}`, `b=${i % 4}`, 'c=constant'];
      requests.push(h);
    }
    let sent: Array<OutgoingHttpHeaders | undefined> = [];
    const capture = await withCapture(async (port) => {
      sent = await sendAll(port, requests);
    });
    assert.equal(capture.requests.length, requests.length);
    assert.ok(sent.every((s) => s !== undefined));
    for (const [i, fields] of capture.requests.entries()) {
      const h = requests[i]!;
      assert.equal(fieldValue(fields, ':path'), h[':path']);
      assert.equal(fieldValue(fields, ':method'), 'GET');
      for (const [name, value] of Object.entries(h)) {
        if (name.startsWith(':')) continue;
        if (name === 'cookie') {
          // nghttp2 may send cookie crumbs as separate fields (RFC 9113 §8.2.3): joined they are what was sent.
          const crumbs = fields.filter(([n]) => n === 'cookie').map(([, v]) => v);
          assert.equal(crumbs.join('; '), (value as string[]).join('; '));
        } else assert.equal(fieldValue(fields, name), value, `request ${i}: ${name}`);
      }
    }
    // The table was in use: the repeated long values took a byte or two each, so later blocks are far smaller than
    // their fields (Huffman alone saves about a fifth to a third).
    const rawSize = (fields: HeaderField[]) => fields.reduce((n, [name, value]) => n + name.length + value.length, 0);
    const small = capture.blocks.slice(50).filter((b, i) => b.length < rawSize(capture.requests[50 + i]!) / 2).length;
    assert.ok(small > 200, `${small} of 250 later blocks are less than half their fields' size (indexed fields)`);
  });
});

describe('HPACK encoder output through the decoder', () => {
  it('round-trips static matches, static names, new names and long values', () => {
    const enc = new HpackEncoder();
    const dec = new HpackDecoder();
    const long = 'v'.repeat(127) + 'w'.repeat(3000);
    const fields: Array<[string, string]> = [
      [':method', 'GET'], // exact static match
      [':method', 'PATCH'], // static name
      [':path', '/'],
      [':path', '/index.html'],
      [':scheme', 'https'],
      [':status', '404'],
      ['accept-encoding', 'gzip, deflate'],
      ['accept-encoding', 'br'],
      ['www-authenticate', 'Basic'], // last static entry
      ['content-type', ''],
      ['x-new-name', 'value'],
      ['x-long', long], // 3127 bytes: a four-byte length
      ['y'.repeat(200), 'a long new name'],
      ['x-latin1', 'caf\u00e9 \u00ff\u0001'],
    ];
    const block = enc.encode(fields);
    assert.deepEqual(dec.decode(block, 1 << 20), fields);
    // One byte for an exact static match.
    assert.deepEqual([...enc.encode([[':method', 'GET']])], [0x82]);
    assert.deepEqual([...enc.encode([[':status', '200']])], [0x88]);
    // Nothing is indexed: the same block decodes the same again, and with a fresh decoder.
    assert.deepEqual(dec.decode(enc.encode(fields), 1 << 20), fields);
    assert.deepEqual(new HpackDecoder().decode(enc.encode(fields), 1 << 20), fields);
  });

  it('round-trips lengths at every integer boundary', () => {
    const enc = new HpackEncoder();
    const dec = new HpackDecoder();
    for (const n of [0, 1, 126, 127, 128, 254, 255, 16_382, 16_383, 16_384, 16_511, 16_512, 70_000]) {
      const fields: Array<[string, string]> = [
        ['x-n', 'z'.repeat(n)],
        ['n'.repeat(Math.max(1, n)), 'v'],
      ];
      assert.deepEqual(dec.decode(enc.encode(fields), 1 << 20), fields, `length ${n}`);
    }
  });

  it('carries set-cookie arrays and other repeated fields (fieldsOf)', () => {
    const enc = new HpackEncoder();
    const dec = new HpackDecoder();
    const head = {
      ':status': 200,
      'Content-Type': 'text/plain',
      'set-cookie': ['a=1; Path=/', 'b=2; HttpOnly', 'c=3'],
      'x-multi': ['accept', 'origin'],
      'content-length': 12,
    };
    const fields = fieldsOf(head);
    assert.deepEqual(dec.decode(enc.encode(fields), 1 << 20), [
      [':status', '200'],
      ['content-type', 'text/plain'],
      ['set-cookie', 'a=1; Path=/'],
      ['set-cookie', 'b=2; HttpOnly'],
      ['set-cookie', 'c=3'],
      ['x-multi', 'accept'],
      ['x-multi', 'origin'],
      ['content-length', '12'],
    ]);
  });
});

describe('HPACK decoder rules, from hand-built blocks', () => {
  it('reads Huffman strings built from the canonical code', () => {
    // "aceo": four 5-bit codes (20 bits), then four 1 bits of padding (the start of EOS).
    assert.deepEqual(decodeOne([0x00, ...raw('x'), ...huff(pack5('aceo', 4, 1))]), [['x', 'aceo']]);
    // Eight symbols of 5 bits fill 5 bytes exactly: no padding.
    assert.deepEqual(decodeOne([0x00, ...raw('x'), ...huff(pack5('sat0itoe', 0, 1))]), [['x', 'sat0itoe']]);
    // Empty Huffman string.
    assert.deepEqual(decodeOne([0x00, ...raw('x'), ...huff([])]), [['x', '']]);
  });

  it('keeps a dynamic table: insertion, indexing, eviction and size updates', () => {
    const dec = new HpackDecoder(4096);
    // Two inserted entries: 62 is the newest.
    assert.deepEqual(decodeOne([...incNew('x-a', '1'), ...incNew('x-b', '2'), ...indexed(62), ...indexed(63)], 1 << 20, dec), [
      ['x-a', '1'],
      ['x-b', '2'],
      ['x-b', '2'],
      ['x-a', '1'],
    ]);
    // Indexed name from the dynamic table with a new value, inserted (literal with incremental indexing, name index 63 = x-a).
    assert.deepEqual(decodeOne([...int(63, 6, 0x40), ...raw('3'), ...indexed(62)], 1 << 20, dec), [
      ['x-a', '3'],
      ['x-a', '3'],
    ]);
    // Entries are 32 + name + value bytes: a size update to 2 * 36 keeps the two newest ([x-a,3], [x-b,2]).
    assert.deepEqual(decodeOne([...sizeUpdate(72), ...indexed(62), ...indexed(63)], 1 << 20, dec), [
      ['x-a', '3'],
      ['x-b', '2'],
    ]);
    throwsHpack(() => decodeOne(indexed(64), 1 << 20, dec), /not in the table/);
    // A third entry evicts the oldest.
    assert.deepEqual(decodeOne([...incNew('x-c', '4'), ...indexed(63)], 1 << 20, dec), [
      ['x-c', '4'],
      ['x-a', '3'],
    ]);
    throwsHpack(() => decodeOne(indexed(64), 1 << 20, dec), /not in the table/);
    // An entry larger than the table empties it.
    assert.deepEqual(decodeOne(incNew('x-big', 'v'.repeat(100)), 1 << 20, dec), [['x-big', 'v'.repeat(100)]]);
    throwsHpack(() => decodeOne(indexed(62), 1 << 20, dec), /not in the table/);
    // Size 0 then back up to the limit, two updates at the start of one block.
    assert.deepEqual(decodeOne([...sizeUpdate(0), ...sizeUpdate(4096), ...incNew('x-d', '5'), ...indexed(62)], 1 << 20, dec), [
      ['x-d', '5'],
      ['x-d', '5'],
    ]);
    // Literal without indexing and never indexed (0x10) add nothing.
    assert.deepEqual(decodeOne([...litNew('x-e', '6'), 0x10, ...raw('x-f'), ...raw('7'), ...indexed(62)], 1 << 20, dec), [
      ['x-e', '6'],
      ['x-f', '7'],
      ['x-d', '5'],
    ]);
    throwsHpack(() => decodeOne(indexed(63), 1 << 20, dec), /not in the table/);
  });

  it('throws HpackError on hostile blocks', () => {
    throwsHpack(() => decodeOne(indexed(0)), /index 0/);
    throwsHpack(() => decodeOne(indexed(62)), /not in the table/);
    throwsHpack(() => decodeOne(indexed(1_000_000)), /not in the table/);
    // Index 0 as a literal's name index means a new name; but 0 as a name index of an indexed field is refused above.
    // Integer overflow: a 7-bit prefix full, then continuation bytes without end.
    throwsHpack(() => decodeOne([0xff, ...new Array(12).fill(0xff), 0x01]), /too large/);
    throwsHpack(() => decodeOne([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), /too large/);
    // An integer cut off by the end of the block.
    throwsHpack(() => decodeOne([0xff, 0x80]), /past the end/);
    throwsHpack(() => decodeOne([0x0f]), /past the end/);
    // String length past the block: a new name of 5 bytes with 2 present, and a value missing entirely.
    throwsHpack(() => decodeOne([0x00, 0x05, 0x61, 0x62]), /past the end/);
    throwsHpack(() => decodeOne([0x00, ...raw('x-a')]), /past the end/);
    throwsHpack(() => decodeOne([0x00, ...raw('x-a'), ...int(1000, 7)]), /past the end/);
    // Huffman padding of zeros instead of the start of EOS.
    throwsHpack(() => decodeOne([0x00, ...raw('x'), ...huff(pack5('a', 3, 0))]), /padding/);
    throwsHpack(() => decodeOne([0x00, ...raw('x'), ...huff(pack5('aceo', 4, 0))]), /padding/);
    // Eight or more bits of padding (a whole byte of ones, or eleven).
    throwsHpack(() => decodeOne([0x00, ...raw('x'), ...huff(pack5('sat0itoe', 8, 1))]), /padding|invalid/);
    throwsHpack(() => decodeOne([0x00, ...raw('x'), ...huff(pack5('a', 11, 1))]), /padding|invalid/);
    // EOS (thirty 1 bits) inside a string: alone, and after a symbol.
    throwsHpack(() => decodeOne([0x00, ...raw('x'), ...huff(pack5('', 2, 1, '1'.repeat(30)))]), /EOS/);
    throwsHpack(() => decodeOne([0x00, ...raw('x'), ...huff(pack5('a', 5, 1, '1'.repeat(30)))]), /EOS/);
    // Table size update above the advertised limit, and after a field.
    throwsHpack(() => decodeOne(sizeUpdate(4097)), /over the advertised/);
    throwsHpack(() => new HpackDecoder(100).decode(Buffer.from(sizeUpdate(101)), 1 << 20), /over the advertised/);
    throwsHpack(() => decodeOne([...indexed(2), ...sizeUpdate(0)]), /after a header field/);
    assert.deepEqual(decodeOne([...sizeUpdate(4096), ...indexed(2)]), [[':method', 'GET']]);
  });

  it('refuses a header list over maxListSize with tooLarge, after reading the whole block', () => {
    const dec = new HpackDecoder();
    // name + value + 32 per field: 3 + 100 + 32 = 135, and 7 + 3 + 32 = 42 for :method GET.
    const block = Buffer.from([...incNew('x-a', 'v'.repeat(100)), ...indexed(2)]);
    assert.throws(
      () => dec.decode(block, 135 + 42 - 1),
      (err: unknown) => err instanceof HpackError && (err as HpackError & { tooLarge?: boolean }).tooLarge === true,
    );
    // The table still took the entry, so the next block that refers to it decodes.
    assert.deepEqual(dec.decode(Buffer.from(indexed(62)), 1 << 20), [['x-a', 'v'.repeat(100)]]);
    // Exactly at the limit is fine.
    assert.equal(new HpackDecoder().decode(block, 135 + 42).length, 2);
    // Other errors are not tooLarge.
    assert.throws(
      () => dec.decode(Buffer.from(indexed(0)), 10),
      (err: unknown) => err instanceof HpackError && (err as HpackError & { tooLarge?: boolean }).tooLarge !== true,
    );
  });
});
