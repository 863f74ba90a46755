/**
 * HTTP/2 (gRPC) and TCP between agents ride the same mutual TLS hop as
 * HTTP/1.1, across real processes: the caller's h2 session and its CONNECT
 * are TLS 1.3 connections the peer counts, plaintext h2c and plaintext
 * CONNECT to an inbound listener get nowhere, and a revoked agent is refused
 * on both paths, on a session it already holds included.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import grpc from '@grpc/grpc-js';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';
import { echoClient, type GrpcTestService, startGrpcService } from './grpc-service.js';
import { type AgentProc, type ControlPlaneProc, Mesh, registerWith, send, waitFor } from './harness.js';

type Client = ReturnType<typeof echoClient>;

function unary(client: Client, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.Unary(Buffer.from(body), new grpc.Metadata(), {}, (err: grpc.ServiceError | null, res: Buffer) =>
      err ? reject(err) : resolve(res.toString()),
    );
  });
}

/** TLS connections the agent's inbound listener accepted (every protocol version and resumption). */
async function tlsConnections(agent: AgentProc): Promise<number> {
  const text = (await send({ port: agent.adminPort, path: '/metrics' })).body.toString();
  return text
    .split('\n')
    .filter((l) => l.startsWith('weft_inbound_tls_connections_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** A TCP echo server: echoes bytes; when the client half-closes, answers `<eof>` and closes its side. */
async function tcpEcho(): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d) => s.write(d));
    s.on('end', () => s.end('<eof>'));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

/** `CONNECT target` on `port`; resolves with the answer head and the socket (left open after a 2xx). */
function connectVia(port: number, target: string, extra = ''): Promise<{ socket: net.Socket; head: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let buf = Buffer.alloc(0);
    const done = (head: string): void => {
      socket.removeAllListeners('data');
      socket.removeAllListeners('end');
      resolve({ socket, head });
    };
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) done(buf.toString('latin1'));
    });
    socket.once('error', (err) => done(`error: ${err.message}`));
    const closed = (): void => done(buf.length > 0 ? buf.toString('latin1') : 'closed without an answer');
    // Half-open: the other side ending its half (a refused TLS handshake) is the end of the answer too.
    socket.once('end', closed);
    socket.once('close', closed);
    socket.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n${extra}\r\n`);
  });
}

/** Writes `data`, half-closes, and collects everything until the other side closes. */
function exchange(socket: net.Socket, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.once('end', () => resolve(Buffer.concat(chunks).toString()));
    socket.once('error', reject);
    socket.end(data);
  });
}

describe('mtls: HTTP/2 and TCP between agents ride the mTLS hop', () => {
  const mesh = new Mesh();
  let cp: ControlPlaneProc;
  let a: AgentProc;
  let b: AgentProc;
  let svc: GrpcTestService;
  let echo: net.Server;
  let client: Client;

  before(async () => {
    cp = await mesh.controlPlane();
    a = await mesh.agent('proto-a', cp.grpcPort);
    b = await mesh.agent('proto-b', cp.grpcPort);
    svc = await startGrpcService();
    echo = await tcpEcho();
    await registerWith(b, { name: 'echo', port: svc.port, id: 'echo-1', protocol: 'grpc' });
    await registerWith(b, { name: 'tcpecho', port: (echo.address() as AddressInfo).port, id: 'tcpecho-1', protocol: 'tcp' });
    client = echoClient(a.outboundPort, 'echo');
    await waitFor('echo callable through agent A', async () => (await unary(client, 'ping')) === 'ping');
    await waitFor('tcpecho reachable through agent A', async () => {
      const { socket, head } = await connectVia(a.outboundPort, 'tcpecho:7');
      socket.destroy();
      return head.startsWith('HTTP/1.1 200');
    });
  });
  after(async () => {
    client?.close();
    await svc?.close();
    await new Promise<void>((r) => (echo ? echo.close(() => r()) : r()));
    await mesh.close();
  });

  test('a gRPC call from A to B is carried on an HTTP/2 session over TLS 1.3; plaintext h2c to the inbound listener is refused', async () => {
    // Nothing but gRPC has reached B's inbound listener yet (before() made only gRPC calls): its TLS connections are
    // the h2 session A opened to it.
    assert.ok((await tlsConnections(b)) > 0, 'the h2 session A holds to B is a TLS connection');
    assert.equal(await unary(client, 'over mTLS'), 'over mTLS');

    const session = http2.connect(`http://127.0.0.1:${b.inboundPort}`);
    const refused = await new Promise<string>((resolve) => {
      session.on('error', (err) => resolve(`error: ${err.message}`));
      const stream = session.request({ ':method': 'POST', ':path': '/echo.Echo/Unary', 'x-weft-instance': 'echo-1' });
      stream.on('response', (h) => resolve(`answered ${h[':status']}`));
      stream.on('error', (err) => resolve(`stream error: ${err.message}`));
      stream.on('close', () => resolve('closed'));
      stream.end();
      setTimeout(() => resolve('timeout'), 5_000).unref();
    });
    session.destroy();
    assert.doesNotMatch(refused, /^answered/, `plaintext h2c got an answer: ${refused}`);
    assert.notEqual(refused, 'timeout');
  });

  test('a TCP connection from A to B opens its CONNECT on a TLS 1.3 connection and passes a half-close; plaintext CONNECT gets no answer', async () => {
    const before = await tlsConnections(b);
    const { socket, head } = await connectVia(a.outboundPort, 'tcpecho:7');
    assert.match(head, /^HTTP\/1\.1 200/, head);
    assert.equal(await exchange(socket, 'through the mTLS hop'), 'through the mTLS hop<eof>');
    assert.ok((await tlsConnections(b)) > before, "B accepted the hop's TLS connection");

    const plain = await connectVia(b.inboundPort, 'tcpecho:7', 'x-weft-instance: tcpecho-1\r\n');
    plain.socket.destroy();
    assert.doesNotMatch(plain.head, /^HTTP\/1\.1 2/, 'no tunnel without mTLS');
  });

  test('a revoked agent is refused on the h2 session it already holds and on a new TCP hop', async () => {
    const seen = svc.calls.length;
    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [WEFT_BIN, 'agent', 'revoke', 'proto-a', '--control-plane', `127.0.0.1:${cp.grpcPort}`],
        (err, _o, stderr) => resolve({ code: err ? 1 : 0, stderr }),
      ),
    );
    assert.equal(r.code, 0, r.stderr);
    await waitFor('B to get the deny list', () => b.logLines.some((l) => l.includes('"deny list updated"') && l.includes('"agents":1')));
    await assert.rejects(unary(client, 'after the revocation'));
    assert.equal(svc.calls.length, seen, 'the app saw no call after the revocation');
    const { socket, head } = await connectVia(a.outboundPort, 'tcpecho:7');
    socket.destroy();
    assert.doesNotMatch(head, /^HTTP\/1\.1 2/, head);
  });
});
