// The floor of a proxy on the agent's own HTTP/2 codec: a bare h2c reverse proxy
// on shared/dist/http2-codec with none of the mesh (as node-h2-proxy.mjs is for
// node:http2): one upstream connection, bodies piped, trailers passed on.
// node codec-h2-proxy.mjs LISTEN_PORT UPSTREAM_PORT
import { connect, createServer } from 'node:net';
import { CODEC_SETTINGS } from '../../agent/dist/http2/h2-settings.js';
import { H2Connection } from '../../shared/dist/http2-codec/connection.js';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
const HOP = new Set([':status', ':method', ':path', ':scheme', ':authority', 'connection', 'keep-alive', 'transfer-encoding', 'upgrade']);
let upstream = null;
const session = () => {
  if (upstream === null || upstream.closed) {
    const socket = connect(upstreamPort, '127.0.0.1');
    socket.setNoDelay(true);
    upstream = new H2Connection({ role: 'client', socket, settings: CODEC_SETTINGS, authority: `127.0.0.1:${upstreamPort}` });
    upstream.on('error', () => {});
  }
  return upstream;
};
const pass = (headers) => {
  const out = {};
  for (const k in headers) if (!HOP.has(k)) out[k] = headers[k];
  return out;
};
const onStream = (down, headers) => {
  const up = session().request(
    { ':method': headers[':method'], ':path': headers[':path'], ':authority': headers[':authority'], ...pass(headers) },
    { endStream: down.endAfterHeaders },
  );
  if (!down.endAfterHeaders) down.pipe(up);
  let trailers = {};
  up.on('trailers', (t) => {
    trailers = pass(t);
  });
  up.on('response', (head, flags) => {
    if (flags & 1) return down.respond({ ...pass(head), ':status': head[':status'] }, { endStream: true });
    down.respond({ ...pass(head), ':status': head[':status'] }, { waitForTrailers: true });
    down.on('wantTrailers', () => down.sendTrailers(trailers));
    up.pipe(down);
  });
  up.on('close', () => {
    if (up.rstCode !== 0 && !down.destroyed) down.close(up.rstCode ?? 2);
  });
  down.on('close', () => {
    if (!up.destroyed && down.rstCode !== 0) up.close(8);
  });
};
const server = createServer({ noDelay: true }, (socket) => {
  new H2Connection({ role: 'server', socket, settings: CODEC_SETTINGS, onStream }).on('error', () => {});
});
server.listen(listenPort, '127.0.0.1', () => console.log(`codec-h2-proxy listening on ${listenPort}`));
process.on('SIGTERM', () => process.exit(0));
