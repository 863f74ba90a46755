// The floor of a pair of Node proxies joined by mutual TLS, for the mesh row
// (weft-mesh): two processes that relay bytes, one connection in to one
// connection out, with no HTTP parsing, routing or policy — what any mesh of
// two Node agents pays at least for the same path (plain in, mTLS between the
// two, plain to the app: the same reads, writes and TLS records per request).
// Reads on the connections each side opens use net's `onread` (one shared
// buffer, as the agent's upstream sockets); accepted sockets read by 'data'.
//   node mtls-relay.mjs outer LISTEN_PORT INNER_PORT CERT_DIR   (plain in, mTLS out)
//   node mtls-relay.mjs inner LISTEN_PORT UPSTREAM_PORT CERT_DIR (mTLS in, plain out)
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as tlsCreateServer } from 'node:tls';

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

function relay(accepted, open) {
  accepted.setNoDelay(true);
  const out = open(accepted);
  accepted.on('data', (chunk) => out.write(chunk));
  const end = () => {
    accepted.destroy();
    out.destroy();
  };
  for (const s of [accepted, out]) {
    s.on('error', end);
    s.on('close', end);
  }
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

const server =
  role === 'outer'
    ? createServer((s) => relay(s, openInner))
    : tlsCreateServer(
        {
          ca: file('ca.crt'),
          cert: file('server.crt'),
          key: file('server.key'),
          requestCert: true,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.3',
        },
        (s) => relay(s, openUpstream),
      );
server.listen(Number(listenPort), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
