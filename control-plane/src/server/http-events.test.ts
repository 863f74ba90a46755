import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ChangeFeed } from './change-feed.js';
import { EventStreams, eventFrame } from './http-events.js';

test('an event frame names its topics as JSON under event: change', () => {
  assert.equal(eventFrame(['services', 'config']), 'event: change\ndata: {"topics":["services","config"]}\n\n');
});

test('streams past the limit get 503 too_many_streams; closing one frees its place and its feed subscription', async () => {
  let revision = 0;
  const feed = new ChangeFeed({ services: () => String(revision), agents: () => '', config: () => '' }, { pollMs: 50 });
  const streams = new EventStreams(feed, 1);
  const server = createServer((req, res) => streams.handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/events`;
  try {
    const first = new AbortController();
    const open = await fetch(url, { signal: first.signal });
    assert.equal(open.status, 200);
    assert.equal(feed.subscribers, 1);

    const refused = await fetch(url);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('x-weft-error'), 'too_many_streams');
    assert.match(((await refused.json()) as { message: string }).message, /at most 1 event streams/);

    // The open stream hears a change.
    const reader = open.body!.pipeThrough(new TextDecoderStream()).getReader();
    revision = 1;
    let text = '';
    while (!text.includes('event: change')) text += (await reader.read()).value ?? '';
    assert.match(text, /"topics":\["services"\]/);

    first.abort();
    for (let i = 0; i < 50 && feed.subscribers > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(feed.subscribers, 0);
    const next = await fetch(url);
    assert.equal(next.status, 200);
    await next.body?.cancel();
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    feed.close();
  }
});
