import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BodyDecoder, chunkSizeLine, LAST_CHUNK } from './body-decoder.js';
import { BodyTooLargeError, MalformedBodyError } from './errors.js';
import { Framing } from './head-parser.js';

/** Deterministic PRNG (mulberry32) so random splits are the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Outcome {
  body: string;
  done: boolean;
  /** Where the body ended in the whole input (the index after its last byte), or -1. */
  endAt: number;
}

/**
 * Feeds `input` split into `pieces` (lengths summing to input.length). Each
 * piece is fed from a non-zero offset inside a larger buffer, as the server
 * does after a head, to check the `at` argument too.
 */
function feedPieces(framing: Framing, contentLength: number, input: Buffer, pieces: number[]): Outcome {
  const chunks: Buffer[] = [];
  const d = new BodyDecoder(framing, contentLength, (c) => chunks.push(Buffer.from(c)));
  let offset = 0;
  let endAt = -1;
  for (const len of pieces) {
    const prefix = Buffer.from('PREFIX');
    const buf = Buffer.concat([prefix, input.subarray(offset, offset + len)]);
    const end = d.feed(buf, prefix.length);
    if (d.done && endAt < 0) endAt = offset + end - prefix.length;
    offset += len;
    if (d.done) break;
  }
  return { body: Buffer.concat(chunks).toString('latin1'), done: d.done, endAt };
}

function whole(framing: Framing, contentLength: number, input: string): Outcome {
  const b = Buffer.from(input, 'latin1');
  return feedPieces(framing, contentLength, b, [b.length]);
}

function byteByByte(framing: Framing, contentLength: number, input: string): Outcome {
  const b = Buffer.from(input, 'latin1');
  return feedPieces(
    framing,
    contentLength,
    b,
    Array.from({ length: b.length }, () => 1),
  );
}

/** Every split of the input in two, plus `n` random multi-way splits. */
function everySplit(framing: Framing, contentLength: number, input: string, check: (o: Outcome, how: string) => void, n = 50): void {
  const b = Buffer.from(input, 'latin1');
  check(feedPieces(framing, contentLength, b, [b.length]), 'whole');
  check(byteByByte(framing, contentLength, input), 'byte by byte');
  for (let cut = 0; cut <= b.length; cut++) check(feedPieces(framing, contentLength, b, [cut, b.length - cut]), `cut at ${cut}`);
  const rnd = prng(input.length * 7919 + 1);
  for (let k = 0; k < n; k++) {
    const pieces: number[] = [];
    let left = b.length;
    while (left > 0) {
      const len = Math.min(left, Math.floor(rnd() * 7));
      pieces.push(len);
      left -= len;
    }
    check(feedPieces(framing, contentLength, b, pieces), `random split ${pieces.join(',')}`);
  }
}

function throwsBodyError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MalformedBodyError, `expected a MalformedBodyError, got ${String(err)}`);
    assert.equal(err.code, 'H1_MALFORMED_BODY');
    assert.equal(err.status, 400);
    assert.equal(err.name, 'MalformedBodyError');
    assert.match(err.message, message);
    return true;
  });
}

describe('BodyDecoder: no body and content-length', () => {
  it('is done at once without a body and consumes nothing', () => {
    let calls = 0;
    const d = new BodyDecoder(Framing.None, -1, () => calls++);
    assert.equal(d.done, true);
    assert.equal(d.feed(Buffer.from('GET / HTTP/1.1\r\n'), 3), 3);
    assert.equal(calls, 0);
    assert.equal(d.untilClose, false);
  });

  it('reads exactly content-length bytes, split at every boundary, and leaves what follows', () => {
    const input = 'hello, world!GET /next HTTP/1.1\r\n';
    everySplit(Framing.Length, 13, input, (o, how) => {
      assert.equal(o.body, 'hello, world!', how);
      assert.equal(o.done, true, how);
      assert.equal(o.endAt, 13, how);
    });
  });

  it('hands the received buffer on without a copy when it is all body', () => {
    const seen: Buffer[] = [];
    const d = new BodyDecoder(Framing.Length, 10, (c) => seen.push(c));
    const a = Buffer.from('01234');
    assert.equal(d.feed(a, 0), 5);
    assert.equal(seen[0], a);
    assert.equal(d.done, false);
    const b = Buffer.from('56789tail');
    assert.equal(d.feed(b, 0), 5);
    assert.equal(seen[1]!.buffer, b.buffer);
    assert.equal(seen[1]!.toString(), '56789');
    assert.equal(d.done, true);
    // Done: nothing more is taken.
    assert.equal(d.feed(Buffer.from('x'), 0), 0);
    assert.equal(seen.length, 2);
  });

  it('does not call onData for an empty feed', () => {
    let calls = 0;
    const d = new BodyDecoder(Framing.Length, 3, () => calls++);
    assert.equal(d.feed(Buffer.from('abc'), 3), 3);
    assert.equal(calls, 0);
    assert.equal(d.done, false);
  });

  it('reports a body cut short by the connection closing', () => {
    const d = new BodyDecoder(Framing.Length, 10, () => {});
    d.feed(Buffer.from('abc'), 0);
    assert.equal(d.closed(), false);
    assert.equal(d.done, false);
  });

  it('reads a large content-length body fed in random pieces', () => {
    const size = 200_000;
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 31) & 0xff;
    const rnd = prng(42);
    const out: Buffer[] = [];
    const d = new BodyDecoder(Framing.Length, size, (c) => out.push(Buffer.from(c)));
    let at = 0;
    while (at < size) {
      const len = 1 + Math.floor(rnd() * 20_000);
      const piece = data.subarray(at, at + len);
      assert.equal(d.feed(piece, 0), piece.length);
      at += piece.length;
    }
    assert.equal(d.done, true);
    assert.ok(Buffer.concat(out).equals(data));
  });
});

describe('BodyDecoder: until close', () => {
  it('takes everything and completes when the connection closes', () => {
    const out: string[] = [];
    const d = new BodyDecoder(Framing.UntilClose, -1, (c) => out.push(c.toString()));
    assert.equal(d.untilClose, true);
    assert.equal(d.feed(Buffer.from('abc'), 1), 3);
    assert.equal(d.feed(Buffer.from('def'), 0), 3);
    assert.equal(d.feed(Buffer.from('ghi'), 3), 3);
    assert.deepEqual(out, ['bc', 'def']);
    assert.equal(d.done, false);
    assert.equal(d.closed(), true);
    assert.equal(d.done, true);
  });
});

describe('BodyDecoder: chunked', () => {
  const cases: [string, string, string][] = [
    ['one chunk', '5\r\nhello\r\n0\r\n\r\n', 'hello'],
    ['several chunks', '5\r\nhello\r\n1\r\n,\r\n6\r\n world\r\n0\r\n\r\n', 'hello, world'],
    ['an empty body', '0\r\n\r\n', ''],
    ['hex sizes in both cases', 'a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n', '0123456789abcdefghij'],
    ['leading zeros in the size', '0005\r\nhello\r\n000\r\n\r\n', 'hello'],
    ['data containing CRLF and digits', '7\r\n\r\n0\r\n\r\n\r\n0\r\n\r\n', '\r\n0\r\n\r\n'],
    ['extensions', '5;name=value\r\nhello\r\n3;a;b="q;\\" x"\r\nabc\r\n0;last\r\n\r\n', 'helloabc'],
    ['a trailer', '5\r\nhello\r\n0\r\nExpires: never\r\n\r\n', 'hello'],
    ['several trailers', '3\r\nabc\r\n0\r\nA: 1\r\nB: 2\r\nC:\r\n\r\n', 'abc'],
    ['a trailer and an extension on the last chunk', '2\r\nhi\r\n0;e=1\r\nX-Sum: abc\r\n\r\n', 'hi'],
    ['binary data', '4\r\n\x00\xff\r\n\r\n0\r\n\r\n', '\x00\xff\r\n'],
  ];
  for (const [name, input, body] of cases) {
    it(`decodes ${name}, split at every byte boundary and in random pieces`, () => {
      const after = 'POST /next HTTP/1.1\r\n';
      everySplit(Framing.Chunked, -1, input + after, (o, how) => {
        assert.equal(o.body, body, how);
        assert.equal(o.done, true, how);
        assert.equal(o.endAt, Buffer.byteLength(input, 'latin1'), how);
      });
    });
  }

  it('is not done before the final CRLF, at any prefix of the input', () => {
    const input = '5\r\nhello\r\n0\r\nT: 1\r\n\r\n';
    for (let n = 0; n < input.length; n++) {
      const o = byteByByte(Framing.Chunked, -1, input.slice(0, n));
      assert.equal(o.done, false, `prefix of ${n} bytes`);
    }
    assert.equal(byteByByte(Framing.Chunked, -1, input).done, true);
  });

  it('is cut short when the connection closes before the last chunk', () => {
    const d = new BodyDecoder(Framing.Chunked, -1, () => {});
    d.feed(Buffer.from('5\r\nhel'), 0);
    assert.equal(d.closed(), false);
  });

  it('accepts the largest size (13 hex digits) and refuses 14 digits as too large', () => {
    const d = new BodyDecoder(Framing.Chunked, -1, () => {});
    d.feed(Buffer.from('fffffffffffff\r\nab'), 0);
    assert.equal(d.done, false);
    throwsBodyError(() => whole(Framing.Chunked, -1, '10000000000000\r\n'), /^chunk size too large$/);
    // Leading zeros count as digits: the bound is on the line, not only the value.
    throwsBodyError(() => whole(Framing.Chunked, -1, '00000000000001\r\nx\r\n0\r\n\r\n'), /too large/);
    throwsBodyError(() => byteByByte(Framing.Chunked, -1, 'ffffffffffffffffffffffffff\r\n'), /too large/);
  });

  it('counts size digits per chunk (13 on every chunk is fine)', () => {
    const o = whole(Framing.Chunked, -1, `fffffffffffff\r\n`);
    assert.equal(o.done, false);
    const ok = whole(Framing.Chunked, -1, `${'0'.repeat(12)}1\r\na\r\n${'0'.repeat(12)}1\r\nb\r\n0\r\n\r\n`);
    assert.equal(ok.body, 'ab');
    assert.equal(ok.done, true);
  });

  const bad: [string, string, RegExp][] = [
    ['an empty size line', '\r\nhello\r\n0\r\n\r\n', /^invalid chunk size$/],
    ['a non-hex size', 'g\r\nhello\r\n0\r\n\r\n', /^invalid chunk size$/],
    ['a sign', '+5\r\nhello\r\n0\r\n\r\n', /^invalid chunk size$/],
    ['a negative size', '-5\r\nhello\r\n0\r\n\r\n', /^invalid chunk size$/],
    ['a 0x prefix', '0x5\r\nhello\r\n0\r\n\r\n', /^invalid chunk size$/],
    ['a leading space', ' 5\r\nhello\r\n0\r\n\r\n', /^invalid chunk size$/],
    ['a size ended by LF only', '5\nhello\r\n0\r\n\r\n', /^invalid chunk size$/],
    ['a size line with CR not followed by LF', '5\rxhello\r\n0\r\n\r\n', /^chunk size line not ended by CRLF$/],
    ['a bare LF in an extension', '5;a\nhello\r\n0\r\n\r\n', /^invalid chunk extension name$/],
    ['a NUL in an extension', '5;a\x00\r\nhello\r\n0\r\n\r\n', /^invalid chunk extension name$/],
    ['an empty extension name', '2;\r\nhi\r\n0\r\n\r\n', /^invalid chunk extension \(no name\)$/],
    ['an extension value with an unbalanced quote', '2;a="b\r\nhi\r\n0\r\n\r\n', /^invalid chunk extension quoted value$/],
    ['an extension name with a space inside', '2;a b\r\nhi\r\n0\r\n\r\n', /^whitespace in a chunk size line$/],
    ['an extension with an empty value', '2;a=\r\nhi\r\n0\r\n\r\n', /^invalid chunk extension value$/],
    ['an extension value that is neither token nor quoted', '2;a=b@c\r\nhi\r\n0\r\n\r\n', /^invalid chunk extension value$/],
    ['a chunk line over 4 KiB', `2;a=${'b'.repeat(4100)}\r\nhi\r\n0\r\n\r\n`, /^chunk size line longer than 4096 bytes$/],
    ['data longer than its size', '3\r\nhello\r\n0\r\n\r\n', /^chunk data longer than its size$/],
    ['data not ended by CRLF', '5\r\nhello\rX0\r\n\r\n', /^chunk data not ended by CRLF$/],
    ['data ended by LF only', '5\r\nhello\n0\r\n\r\n', /^chunk data longer than its size$/],
    ['a trailer line ended by LF only', '0\r\nA: 1\nB: 2\r\n\r\n', /^trailer line not ended by CRLF$/],
    ['a trailer CR not followed by LF', '0\r\nA: 1\rB\r\n\r\n', /^trailer line not ended by CRLF$/],
    ['a last chunk not ended by CRLF', '0\r\n\rX', /^last chunk not ended by CRLF$/],
  ];
  for (const [name, input, message] of bad) {
    it(`refuses ${name}, whole and byte by byte`, () => {
      throwsBodyError(() => whole(Framing.Chunked, -1, input), message);
      throwsBodyError(() => byteByByte(Framing.Chunked, -1, input), message);
    });
  }

  it('accepts extensions by the grammar: token and quoted values, several per line', () => {
    for (const ext of [';a', ';a=b', ';a="b c"', ';a="b\\"c"', ';a=b;c="";d']) {
      const out: string[] = [];
      const d = new BodyDecoder(Framing.Chunked, -1, (c) => out.push(c.toString()));
      d.feed(Buffer.from(`2${ext}\r\nhi\r\n0\r\n\r\n`), 0);
      assert.equal(d.done, true, ext);
      assert.equal(out.join(''), 'hi', ext);
    }
  });

  it('errs with BodyTooLargeError (413) once chunk sizes pass maxBytes, before the chunk data', () => {
    const out: string[] = [];
    const d = new BodyDecoder(Framing.Chunked, -1, (c) => out.push(c.toString()), 5);
    d.feed(Buffer.from('3\r\nabc\r\n'), 0);
    assert.throws(
      () => d.feed(Buffer.from('3\r\ndef\r\n'), 0),
      (err: unknown) => err instanceof BodyTooLargeError && err.status === 413 && /larger than the limit of 5 bytes/.test(err.message),
    );
    assert.deepEqual(out, ['abc']);
  });

  it('hands on the data before the error', () => {
    const out: string[] = [];
    const d = new BodyDecoder(Framing.Chunked, -1, (c) => out.push(c.toString()));
    assert.throws(() => d.feed(Buffer.from('3\r\nabc\r\nzz'), 0), MalformedBodyError);
    assert.deepEqual(out, ['abc']);
  });

  it('refuses trailers larger than 16 KiB, and accepts them just below', () => {
    const big = `X: ${'a'.repeat(16 * 1024)}`;
    throwsBodyError(() => whole(Framing.Chunked, -1, `0\r\n${big}\r\n\r\n`), /^chunked trailer too large$/);
    const fits = `X: ${'a'.repeat(16 * 1024 - 10)}`;
    assert.equal(whole(Framing.Chunked, -1, `0\r\n${fits}\r\n\r\n`).done, true);
    // The bound is over all trailer lines together.
    const many = Array.from({ length: 40 }, () => `Y: ${'b'.repeat(500)}`).join('\r\n');
    throwsBodyError(() => whole(Framing.Chunked, -1, `0\r\n${many}\r\n\r\n`), /too large/);
  });

  it('hands data on as views of the fed buffer (no copy)', () => {
    const seen: Buffer[] = [];
    const d = new BodyDecoder(Framing.Chunked, -1, (c) => seen.push(c));
    const buf = Buffer.from('5\r\nhello\r\n0\r\n\r\n');
    assert.equal(d.feed(buf, 0), buf.length);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.buffer, buf.buffer);
    assert.equal(seen[0]!.byteOffset, buf.byteOffset + 3);
  });

  it('decodes a large random body framed in random chunk sizes and fed in random pieces', () => {
    const rnd = prng(7);
    const parts: Buffer[] = [];
    const data: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const len = 1 + Math.floor(rnd() * 3000);
      const chunk = Buffer.alloc(len);
      for (let j = 0; j < len; j++) chunk[j] = Math.floor(rnd() * 256);
      data.push(chunk);
      parts.push(Buffer.from(i % 3 === 0 ? `${len.toString(16)};i=${i}\r\n` : chunkSizeLine(len)), chunk, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from(LAST_CHUNK));
    const input = Buffer.concat(parts);
    const pieces: number[] = [];
    let left = input.length;
    while (left > 0) {
      const len = Math.min(left, 1 + Math.floor(rnd() * 5000));
      pieces.push(len);
      left -= len;
    }
    const o = feedPieces(Framing.Chunked, -1, input, pieces);
    assert.equal(o.done, true);
    assert.equal(o.endAt, input.length);
    assert.ok(Buffer.from(o.body, 'latin1').equals(Buffer.concat(data)));
  });
});

describe('chunk writing helpers', () => {
  it('writes size lines in lowercase hex and the last chunk', () => {
    assert.equal(chunkSizeLine(0), '0\r\n');
    assert.equal(chunkSizeLine(255), 'ff\r\n');
    assert.equal(chunkSizeLine(4096), '1000\r\n');
    assert.equal(LAST_CHUNK, '0\r\n\r\n');
  });
});

describe('BodyDecoder: whitespace in a chunk-size line', () => {
  it('refuses whitespace after the size, around ";" and "=" (as llhttp strict), but keeps it inside a quoted value', () => {
    throwsBodyError(() => whole(Framing.Chunked, -1, '5 \r\nhello\r\n0\r\n\r\n'), /^invalid chunk size$/);
    throwsBodyError(() => whole(Framing.Chunked, -1, '5\t;x=1\r\nhello\r\n0\r\n\r\n'), /^invalid chunk size$/);
    throwsBodyError(() => whole(Framing.Chunked, -1, '5; x\r\nhello\r\n0\r\n\r\n'), /^whitespace in a chunk size line$/);
    throwsBodyError(() => whole(Framing.Chunked, -1, '5;x =1\r\nhello\r\n0\r\n\r\n'), /^whitespace in a chunk size line$/);
    assert.equal(whole(Framing.Chunked, -1, '5;x="a b"\r\nhello\r\n0\r\n\r\n').body, 'hello');
  });
});

describe('BodyDecoder: trailer fields', () => {
  const bad: [string, string, RegExp][] = [
    ['obs-fold', '0\r\nA: 1\r\n 2\r\n\r\n', /^folded trailer line \(obs-fold\)$/],
    ['a line without a colon', '0\r\nA\r\n\r\n', /^invalid trailer field name$/],
    ['whitespace before the colon', '0\r\nA : 1\r\n\r\n', /^invalid trailer field name$/],
    ['a NUL in a value', '0\r\nA: 1\x00\r\n\r\n', /^control character in a trailer field value$/],
  ];
  for (const [name, input, message] of bad) {
    it(`refuses a trailer with ${name}, whole and byte by byte`, () => {
      throwsBodyError(() => whole(Framing.Chunked, -1, input), message);
      throwsBodyError(() => byteByByte(Framing.Chunked, -1, input), message);
    });
  }
});
