/**
 * Seeded, bounded fuzzing of the codec with mutations of corpus messages
 * (bytes replaced, inserted or deleted, lines duplicated, cuts), each read
 * whole, split at a random point and (short ones) byte by byte. Invariants:
 *   - the parser throws nothing but its typed errors (Http1Error);
 *   - the reading does not depend on how the bytes are split;
 *   - a length-framed body never holds a byte outside its declared frame;
 *   - a mutation never makes us hand on more requests than the original
 *     unless llhttp (over a real socket) also reads that many: an extra
 *     message must be a genuine parse of two, never a smuggled one. Requests
 *     are counted up to the first whose method llhttp does not know (node's
 *     http.METHODS): we accept any token method (the corpus lists that
 *     disagreement), so from such a request on llhttp has stopped reading
 *     while we go on; before it, both must see the same boundaries.
 * The seed and the count are fixed: a failure names the mutant to replay.
 */
import assert from 'node:assert/strict';
import { METHODS } from 'node:http';
import { describe, it } from 'node:test';
import {
  bytesOf,
  describe as describeOutcome,
  loadCorpus,
  type Outcome,
  split,
  weftRequests,
  weftResponse,
} from './test-support/corpus.js';
import { requestsOverSockets } from './test-support/corpus-sockets.js';

const SEED = 0x5eed_1e55;
const MUTANTS = 30_000;
/** Stop early past this much time (a slow machine runs fewer mutants, never a longer test). */
const BUDGET_MS = 12_000;

const KNOWN_METHODS = new Set(METHODS);

/** Complete requests before the first whose method llhttp does not know. */
function knownComplete(o: Outcome): number {
  let n = 0;
  for (const m of o.messages) {
    if (!KNOWN_METHODS.has(m.head.slice(0, m.head.indexOf(' ')))) break;
    if (m.complete) n++;
  }
  return n;
}

/** mulberry32: a small seeded PRNG. */
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

/** Bytes that matter to HTTP/1.1 framing. */
const INTERESTING = [13, 10, 32, 9, 0, 58, 59, 44, 48, 49, 102, 34, 92, 11, 12, 127, 255, 61];

function mutate(buf: Buffer, rand: () => number): Buffer {
  let b = Buffer.from(buf);
  const n = 1 + Math.floor(rand() * 3);
  const pick = (): number => (rand() < 0.8 ? INTERESTING[Math.floor(rand() * INTERESTING.length)]! : Math.floor(rand() * 256));
  for (let k = 0; k < n && b.length > 0; k++) {
    const at = Math.floor(rand() * b.length);
    switch (Math.floor(rand() * 5)) {
      case 0:
        b[at] = pick();
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), Buffer.from([pick()]), b.subarray(at)]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
        break;
      case 3: {
        // Duplicate the line holding `at` (a second Content-Length, Transfer-Encoding, chunk line...).
        const start = b.lastIndexOf('\n', at) + 1;
        const end = b.indexOf('\n', at);
        if (end > start) b = Buffer.concat([b.subarray(0, end + 1), b.subarray(start, end + 1), b.subarray(end + 1)]);
        break;
      }
      default:
        b = b.subarray(0, at);
    }
  }
  return b;
}

/** Invariant breaches of one reading (empty when none). */
function frameBreaches(o: Outcome, input: Buffer): string[] {
  const out: string[] = [];
  for (const m of o.messages) {
    if (Buffer.byteLength(m.body, 'latin1') > input.length) out.push(`${m.head}: body longer than the input`);
    if (m.declared !== undefined) {
      const n = Buffer.byteLength(m.body, 'latin1');
      if (m.complete ? n !== m.declared : n > m.declared) out.push(`${m.head}: ${n} body bytes for content-length ${m.declared}`);
    }
  }
  return out;
}

describe('HTTP/1.1 codec fuzzing (seeded, bounded)', () => {
  it('keeps its invariants on mutated corpus messages', async (t) => {
    const rand = prng(SEED);
    const requests = loadCorpus('requests').map(bytesOf);
    const responses = loadCorpus('responses').map((c) => ({ raw: bytesOf(c), method: c.method ?? 'GET' }));
    const problems: string[] = [];
    const extra: { mutant: Buffer; count: number; origin: number }[] = [];
    const started = Date.now();
    let ran = 0;
    for (; ran < MUTANTS && Date.now() - started < BUDGET_MS; ran++) {
      const isRequest = rand() < 0.6;
      const index = Math.floor(rand() * (isRequest ? requests.length : responses.length));
      const original = isRequest ? requests[index]! : responses[index]!.raw;
      const mutant = mutate(original, rand);
      const point = mutant.length > 1 ? 1 + Math.floor(rand() * (mutant.length - 1)) : 0;
      const name = `mutant ${ran} of ${isRequest ? 'request' : 'response'} ${index} ${JSON.stringify(mutant.toString('latin1').slice(0, 120))}`;
      if (isRequest) {
        const whole = weftRequests([mutant]);
        const w = describeOutcome(whole);
        const s = describeOutcome(weftRequests(split(mutant, [point])));
        if (s !== w) problems.push(`${name}: split at ${point} reads ${s}, whole ${w}`);
        if (mutant.length <= 200) {
          const bytes = describeOutcome(
            weftRequests(
              split(
                mutant,
                Array.from({ length: mutant.length - 1 }, (_, i) => i + 1),
              ),
            ),
          );
          if (bytes !== w) problems.push(`${name}: byte by byte reads ${bytes}, whole ${w}`);
        }
        for (const b of frameBreaches(whole, mutant)) problems.push(`${name}: ${b}`);
        const originalCount = knownComplete(weftRequests([original]));
        const count = knownComplete(whole);
        if (count > originalCount) extra.push({ mutant, count, origin: originalCount });
      } else {
        const method = responses[index]!.method;
        const whole = weftResponse([mutant], method);
        const w = describeOutcome(whole);
        const parts = weftResponse(split(mutant, [point]), method);
        const s = describeOutcome(parts);
        if (s !== w && parts.completedAt !== point) problems.push(`${name}: split at ${point} reads ${s}, whole ${w}`);
        for (const b of frameBreaches(whole, mutant)) problems.push(`${name}: ${b}`);
      }
    }
    // Every mutant that gave more requests than its original: llhttp must read at least as many from it.
    const { llhttp } = await requestsOverSockets(
      extra.map((e) => e.mutant),
      8,
    );
    extra.forEach((e, i) => {
      const theirs = knownComplete(llhttp[i]!);
      if (theirs < e.count) {
        problems.push(
          `extra message: ${JSON.stringify(e.mutant.toString('latin1'))} gives ${e.count} requests (original ${e.origin}), llhttp ${theirs}`,
        );
      }
    });
    t.diagnostic(
      `${ran} mutants in ${Date.now() - started} ms; ${extra.length} read as more requests than their original, checked against llhttp`,
    );
    assert.ok(ran >= 1_000, `only ${ran} mutants ran`);
    assert.deepEqual(problems.slice(0, 10), []);
  });
});
