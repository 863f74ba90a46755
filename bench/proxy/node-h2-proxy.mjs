// The floor of any proxy built on node:http2: a bare h2c reverse proxy with
// none of the mesh (no routing, retries, deadlines, metrics, policy), used as
// the gRPC benchmark's reference peer the way plain undici is for HTTP/1.1.
// One upstream session; request and response bodies piped with node's own
// backpressure; the upstream's trailers passed on.
// node node-h2-proxy.mjs LISTEN_PORT UPSTREAM_PORT
import http2 from 'node:http2';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
const HOP = new Set([':status', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);
let upstream = null;
const session = () => {
  if (upstream === null || upstream.closed || upstream.destroyed) {
    upstream = http2.connect(`http://127.0.0.1:${upstreamPort}`);
    upstream.on('error', () => {});
  }
  return upstream;
};
const pass = (headers) => {
  const out = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP.has(k)) out[k] = v;
  return out;
};

const server = http2.createServer();
server.on('stream', (down, headers) => {
  const up = session().request(pass(headers));
  down.pipe(up);
  let trailers = {};
  up.on('trailers', (t) => {
    trailers = pass(t);
  });
  up.on('response', (head) => {
    down.respond({ ...pass(head), ':status': head[':status'] }, { waitForTrailers: true });
    down.on('wantTrailers', () => down.sendTrailers(trailers));
    up.pipe(down);
  });
  up.on('error', () => {
    if (!down.closed) down.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  });
  down.on('error', () => {});
  down.on('close', () => {
    if (!up.closed) up.close(http2.constants.NGHTTP2_CANCEL);
  });
});
server.listen(listenPort, '127.0.0.1', () => console.log(`node-h2-proxy listening on ${listenPort}`));
process.on('SIGTERM', () => process.exit(0));
