// The floor of a pair of Node proxies joined by mutual TLS, for the mesh row
// (weft-mesh): two processes that relay bytes, one connection in to one
// connection out, with no HTTP parsing, routing or policy — what any mesh of
// two Node agents pays at least for the same path (plain in, mTLS between the
// two, plain to the app: the same reads, writes and TLS records per request).
// Every socket reads as the agent's do: the connections each side opens use
// net's `onread` (one shared buffer), and accepted sockets, plain and TLS, are
// accepted through the agent's own paths (agent/dist/http1/shared-read-accept.js,
// tls-accept.js), which give them shared reads too. So the relay is the
// agents' own socket I/O with none of their HTTP.
//   node mtls-relay.mjs outer LISTEN_PORT INNER_PORT CERT_DIR   (plain in, mTLS out)
//   node mtls-relay.mjs inner LISTEN_PORT UPSTREAM_PORT CERT_DIR (mTLS in, plain out)
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { installSharedReadAccept } from '../../agent/dist/http1/shared-read-accept.js';
import { TlsAccept } from '../../agent/dist/http1/tls-accept.js';

const [role, listenPort, nextPort, certs] = process.argv.slice(2);
const file = (name) => readFileSync(join(certs, name));
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Copies each read of `from` into a write on `to` (the shared buffer is reused after the callback). */
const onreadTo = (to) => ({
  buffer: READ_BUFFER,
  callback: (n, buf) => {
    to.write(Buffer.from(buf.subarray(0, n)));
    return true;
  },
});

/** Joins an accepted socket to the connection `open` makes for it; returns the accepted socket's read callback. */
function relay(accepted, open) {
  accepted.setNoDelay(true);
  const out = open(accepted);
  const end = () => {
    accepted.destroy();
    out.destroy();
  };
  for (const s of [accepted, out]) {
    s.on('error', end);
    s.on('close', end);
  }
  return (n, buf) => {
    out.write(Buffer.from(buf.subarray(0, n)));
  };
}

/** The last TLS session the inner side gave us: new connections resume it, as the agents' pools do. */
let session;
const openInner = (accepted) =>
  tlsConnect({
    host: '127.0.0.1',
    port: Number(nextPort),
    ca: file('ca.crt'),
    cert: file('client.crt'),
    key: file('client.key'),
    servername: 'up',
    minVersion: 'TLSv1.3',
    session,
    onread: onreadTo(accepted),
  })
    .setNoDelay(true)
    .on('session', (s) => {
      session = s;
    });
const openUpstream = (accepted) => connect({ host: '127.0.0.1', port: Number(nextPort), noDelay: true, onread: onreadTo(accepted) });

const server = createServer({ allowHalfOpen: false, noDelay: true });
if (role === 'outer') {
  server.on('connection', (s) => {
    const onRead = relay(s, openInner);
    s.on('data', (chunk) => onRead(chunk.length, chunk));
  });
  server.listen(Number(listenPort), '127.0.0.1', () => {
    installSharedReadAccept(
      server,
      false,
      (s) => relay(s, openInner),
      () => {},
    );
  });
} else {
  const accept = new TlsAccept({
    tls: {
      ca: file('ca.crt'),
      cert: file('server.crt'),
      key: file('server.key'),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
    },
    handshakeTimeoutMs: 10_000,
    onSecure: (s, sharedReads) => {
      const onRead = relay(s, openUpstream);
      if (sharedReads) return onRead;
      s.on('data', (chunk) => onRead(chunk.length, chunk));
      return undefined;
    },
    onError: () => {},
  });
  server.on('connection', accept.accept);
  server.listen(Number(listenPort), '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
