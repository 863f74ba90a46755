/**
 * The HTTP routes the dashboard reads beside /v1/services and /v1/agents:
 * config and its history (the gRPC calls' JSON twins), the server-sent
 * change events, the static files with their CSP, and the read rule for
 * callers on other hosts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { agentInfo, type Harness, instance, nonLoopbackAddress, startHarness, startOnAllInterfaces, tempDir } from '../test-support.js';
import { UI_CONTENT_SECURITY_POLICY, UiAssets } from './ui-assets.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

const get = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${h.cp.httpPort}${path}`, init);

function routesDoc(ruleName: string) {
  return {
    apiVersion: 'weft.dev/v1',
    kind: 'Routes',
    metadata: { service: 'orders' },
    rules: [{ name: ruleName, route: [{ tags: ['version=v1'] }] }],
  };
}

async function apply(doc: object): Promise<void> {
  await h.call('ApplyConfig', { documents: [{ source: 'routes.yaml', json: JSON.stringify(doc) }] });
}

/** Reads server-sent events until `until` returns true for one of them (or the deadline passes). */
async function readEvents(until: (topics: string[]) => boolean, action: () => Promise<void>, timeoutMs = 10_000): Promise<string[][]> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const seen: string[][] = [];
  try {
    const res = await get('/v1/events', { signal: abort.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let acted = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`event stream ended; saw ${JSON.stringify(seen)}`);
      buffer += value;
      if (!acted && buffer.includes(': connected')) {
        acted = true;
        await action();
      }
      const frames = buffer.split('\n\n');
      buffer = frames.pop() ?? '';
      for (const frame of frames) {
        const data = /^event: change\ndata: (.*)$/m.exec(frame);
        if (!data) continue;
        const topics = (JSON.parse(data[1]) as { topics: string[] }).topics;
        seen.push(topics);
        if (until(topics)) return seen;
      }
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

test('GET /v1/config and /v1/config/history show the documents and each revision with parsed before and after', async () => {
  const empty = (await (await get('/v1/config')).json()) as { revision: string; documents: unknown[] };
  assert.deepEqual(empty, { revision: '0', documents: [] });

  await apply(routesDoc('first'));
  await apply(routesDoc('second'));

  const config = (await (await get('/v1/config?service=orders')).json()) as {
    revision: string;
    documents: { service: string; kind: string; revision: string; document: { rules: { name: string }[] } }[];
  };
  assert.equal(config.revision, '2');
  assert.deepEqual(
    config.documents.map((d) => [d.service, d.kind, d.revision, d.document.rules[0].name]),
    [['orders', 'Routes', '2', 'second']],
  );
  assert.deepEqual(((await (await get('/v1/config?kind=AccessPolicy')).json()) as { documents: unknown[] }).documents, []);

  const history = (await (await get('/v1/config/history')).json()) as {
    revisions: {
      revision: string;
      description: string;
      changes: { action: string; before: { rules: { name: string }[] } | null; after: { rules: { name: string }[] } | null }[];
    }[];
  };
  assert.deepEqual(
    history.revisions.map((r) => r.revision),
    ['2', '1'],
  );
  const [second, first] = history.revisions;
  assert.equal(second.changes[0].action, 'update');
  assert.equal(second.changes[0].before?.rules[0].name, 'first');
  assert.equal(second.changes[0].after?.rules[0].name, 'second');
  assert.equal(first.changes[0].action, 'create');
  assert.equal(first.changes[0].before, null);

  const one = (await (await get('/v1/config/history?limit=1')).json()) as { revisions: unknown[] };
  assert.equal(one.revisions.length, 1);
});

test('bad query parameters of the config routes get 400 naming the parameter', async () => {
  for (const [path, field] of [
    ['/v1/config/history?limit=0', 'limit'],
    ['/v1/config/history?limit=ten', 'limit'],
    ['/v1/config/history?limit=1001', 'limit'],
    ['/v1/config?kind=Nope', 'kind'],
    [`/v1/config?service=${'x'.repeat(300)}`, 'service'],
  ] as const) {
    const res = await get(path);
    assert.equal(res.status, 400, path);
    assert.equal(res.headers.get('x-weft-error'), 'invalid_argument', path);
    assert.match(((await res.json()) as { message: string }).message, new RegExp(`^${field}: `), path);
  }
  const post = await get('/v1/events', { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('x-weft-error'), 'bad_request');
  await post.text();
});

test('GET /v1/events names services when an instance registers and config when a document is applied', async () => {
  const services = await readEvents(
    (t) => t.includes('services'),
    () => h.call('Register', { agent: agentInfo('events-host'), instances: [instance('billing', 'b1')] }),
  );
  assert.ok(services.at(-1)!.includes('services'));
  const config = await readEvents(
    (t) => t.includes('config'),
    () => apply(routesDoc('third')),
  );
  assert.ok(config.at(-1)!.includes('config'));
});

test('/ui/ serves the built dashboard with its content types and a strict CSP; /ui redirects there', async () => {
  const redirect = await get('/ui', { redirect: 'manual' });
  assert.equal(redirect.status, 308);
  assert.equal(redirect.headers.get('location'), '/ui/');

  const index = await get('/ui/');
  assert.equal(index.status, 200, 'the dashboard is built by `npm run build` (scripts/build-ui.mjs)');
  assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.equal(index.headers.get('content-security-policy'), UI_CONTENT_SECURITY_POLICY);
  assert.match(UI_CONTENT_SECURITY_POLICY, /script-src 'self'(;|$)/);
  assert.doesNotMatch(UI_CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval|http:|https:/);
  const html = await index.text();
  assert.match(html, /<script type="module" src="\.\/app\.js"><\/script>/);
  assert.doesNotMatch(html, /<script>|<style|style=/, 'no inline script or style');

  const js = await get('/ui/app.js');
  assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.ok((await js.text()).length > 1000);
  const css = await get('/ui/app.css');
  assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
  assert.match(await css.text(), /\.uplot/, 'uPlot styles are bundled, no CDN');

  const again = await get('/ui/app.js', { headers: { 'if-none-match': js.headers.get('etag')! } });
  assert.equal(again.status, 304);

  const missing = await get('/ui/nope.js');
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('x-weft-error'), 'not_found');
  await missing.text();
  const post = await get('/ui/', { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('x-weft-error'), 'bad_request');
  await post.text();
  const traversal = await get('/ui/..%2f..%2fpackage.json');
  assert.equal(traversal.status, 404);
  await traversal.text();
});

test('an unbuilt dashboard answers 404 saying how to build it', () => {
  const dir = tempDir('weft-ui-');
  try {
    const ui = new UiAssets(join(dir.path, 'missing'));
    assert.equal(ui.built, false);
    assert.throws(
      () => ui.serve('/ui/', undefined, {} as never, false),
      (err: Error) => /not built .*npm run build/.test(err.message),
    );
  } finally {
    dir.remove();
  }
});

test('from another host the data routes need a read or operator token; the static files do not', async (t) => {
  const address = nonLoopbackAddress();
  if (!address) {
    t.skip('this host has no non-loopback IPv4 address');
    return;
  }
  const dir = tempDir();
  const cp = await startOnAllInterfaces(dir.path);
  try {
    const base = `http://${address}:${cp.httpPort}`;
    for (const path of ['/v1/config', '/v1/config/history', '/v1/events', '/v1/services']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get('x-weft-error'), 'unauthenticated', path);
      assert.match(((await res.json()) as { message: string }).message, /read or operator token is required/);
    }
    const ui = await fetch(`${base}/ui/`);
    assert.equal(ui.status, 200);
    await ui.text();
    const token = readFileSync(cp.bootstrapTokenFile, 'utf8').trim();
    const config = await fetch(`${base}/v1/config`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(config.status, 200);
    await config.text();
    const events = await fetch(`${base}/v1/events`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(events.status, 200);
    await events.body?.cancel();
  } finally {
    await cp.close();
    dir.remove();
  }
});
