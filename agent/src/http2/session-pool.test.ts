import assert from 'node:assert/strict';
import { createSecureServer, createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@weft/shared';
import { AgentIdentity, snapshotOf } from '../identity/agent-identity.js';
import { MeshTls } from '../proxy/mesh-tls.js';
import { heldServices, testCa } from '../proxy/test-mesh-ca.js';
import { H2ConnectFailedError, H2SessionPool } from './session-pool.js';

function get(pool: H2SessionPool, port: number) {
  const s = pool.get(`127.0.0.1:${port}`, '127.0.0.1', port);
  return s instanceof Promise ? s : Promise.resolve(s);
}

describe('the HTTP/2 session pool', () => {
  let server: Http2Server;
  let port: number;
  const sessions: ServerHttp2Session[] = [];

  before(async () => {
    server = createServer();
    server.on('session', (s) => sessions.push(s));
    server.on('stream', (stream) => {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of sessions) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('keeps one session per origin and hands it out synchronously once connected', async () => {
    const pool = new H2SessionPool();
    const before = sessions.length;
    const [a, b] = await Promise.all([get(pool, port), get(pool, port)]);
    assert.equal(a, b, 'calls while connecting share the session');
    const c = pool.get(`127.0.0.1:${port}`, '127.0.0.1', port);
    assert.ok(!(c instanceof Promise), 'a connected session is handed out without a promise');
    assert.equal(c, a);
    assert.equal(sessions.length - before, 1, 'one TCP connection');
    await pool.close(true);
  });

  it('replaces a session the server went away from (GOAWAY or close)', async () => {
    const pool = new H2SessionPool();
    const first = await get(pool, port);
    const closed = new Promise((r) => first.once('close', r));
    sessions[sessions.length - 1]?.close();
    await closed;
    const second = await get(pool, port);
    assert.notEqual(second, first);
    assert.equal(pool.size, 1);
    await pool.close(true);
  });

  it('fails a connect as H2ConnectFailedError with the system code, so nothing counts as sent', async () => {
    const pool = new H2SessionPool();
    const dead = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    await assert.rejects(get(pool, dead), (err: unknown) => err instanceof H2ConnectFailedError && err.code === 'ECONNREFUSED');
    assert.equal(pool.size, 0, 'a failed session is not kept');
    await pool.close(true);
  });

  it('refuses new sessions once closed, and close lets open streams finish when graceful', async () => {
    const pool = new H2SessionPool();
    const s = await get(pool, port);
    const req = s.request({ ':path': '/' });
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    const ended = new Promise((r) => req.on('end', r));
    await new Promise((r) => req.once('response', r));
    await pool.close(true);
    await ended;
    assert.equal(body, 'ok');
    await assert.rejects(get(pool, port), H2ConnectFailedError);
  });
});

/** A peer agent's TLS 1.3 HTTP/2 listener that requires a client certificate of `caPem`, on a port of the OS's choosing. */
async function peerServer(peer: { keyPem: string; certificatePem: string }, caPem: string) {
  const server = createSecureServer({
    key: peer.keyPem,
    cert: peer.certificatePem,
    ca: caPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.3',
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('the HTTP/2 session pool over mesh TLS', () => {
  it('reports a peer that refuses our certificate after the TLS 1.3 handshake as a refused connect, not a reset', async () => {
    const [ours, theirs] = await Promise.all([testCa(), testCa()]);
    const [me, peer] = await Promise.all([ours.issue('a'), theirs.issue('b')]);
    // The peer trusts only its own CA, so it refuses our certificate once it has seen it (after our side of the handshake).
    const { server, port } = await peerServer(peer, theirs.pem);
    let streams = 0;
    server.on('stream', () => streams++);
    const identity = new AgentIdentity(snapshotOf(me.keyPem, me.certificatePem, ours.pem + theirs.pem, 'test'), silentLogger);
    const tls = new MeshTls({ identity, logger: silentLogger });
    const pool = new H2SessionPool();
    try {
      const key = `https://127.0.0.1:${port} b`;
      const err = await Promise.resolve(pool.get(key, '127.0.0.1', port, tls.clientFor(key, 'b'))).then(
        () => assert.fail('expected a refusal'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof H2ConnectFailedError, String(err));
      assert.match(
        err.message,
        /the peer (refused the TLS session after the handshake|closed the connection at the end of the TLS handshake)/,
      );
      assert.equal(streams, 0, 'no stream was sent');
    } finally {
      await pool.close(false);
      tls.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('the HTTP/2 session pool and the identity it presents', () => {
  it("replaces a session made before the source service's certificate arrived; the old one ends with GOAWAY", async () => {
    const ca = await testCa();
    const [me, peer] = await Promise.all([ca.issue('a'), ca.issue('b')]);
    const { server, port } = await peerServer(peer, ca.pem);
    const presented: string[] = [];
    server.on('secureConnection', (socket) => presented.push(String(socket.getPeerCertificate().subjectaltname)));
    const identity = new AgentIdentity(snapshotOf(me.keyPem, me.certificatePem, ca.pem, 'test'), silentLogger);
    const held = heldServices({});
    const tls = new MeshTls({ identity, logger: silentLogger, services: held });
    const pool = new H2SessionPool();
    try {
      const key = `https://127.0.0.1:${port} b orders web`;
      const client = tls.clientFor(key, 'b', { source: 'web' });
      const first = await pool.get(key, '127.0.0.1', port, client);
      assert.equal(pool.get(key, '127.0.0.1', port, client), first, 'kept while the identity is unchanged');
      const firstClosed = new Promise((r) => first.once('close', r));
      held.hold('web', await ca.issueService('web', 'a'));
      const second = await pool.get(key, '127.0.0.1', port, client);
      assert.notEqual(second, first);
      await firstClosed;
      assert.deepEqual(presented, ['URI:spiffe://weft.local/agent/a', 'URI:spiffe://weft.local/svc/web']);
    } finally {
      await pool.close(false);
      tls.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('the HTTP/2 session pool keep-alive', () => {
  it('destroys a session whose peer stops answering PINGs while a stream is open, failing the stream at once', async () => {
    // A peer that completes the HTTP/2 handshake (its SETTINGS) and then goes silent: no PING ACK, no answer.
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      socket.on('data', () => {});
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as AddressInfo).port;
    const pool = new H2SessionPool({ keepaliveMs: 50, keepaliveTimeoutMs: 100 });
    try {
      const session = await get(pool, silentPort);
      const started = Date.now();
      const stream = session.request({ ':path': '/never' }, { endStream: true });
      const closed = new Promise<void>((r) => stream.once('close', () => r()));
      const sessionClosed = new Promise<void>((r) => session.once('close', () => r()));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the dead peer was not noticed within 3 s')), 3000);
      });
      await Promise.race([Promise.all([closed, sessionClosed]), late]).finally(() => clearTimeout(timer));
      const tookMs = Date.now() - started;
      assert.ok(tookMs < 2000, `the dead peer is noticed by the keep-alive (${tookMs} ms)`);
      assert.notEqual(stream.rstCode, 0, 'the stream did not complete');
      assert.equal(pool.size, 0, 'the dead session left the pool');
    } finally {
      await pool.close(false);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('keeps a session whose peer answers PINGs, through a response slower than several keep-alive rounds', async () => {
    const server = createServer();
    const serverSessions: ServerHttp2Session[] = [];
    server.on('session', (s) => serverSessions.push(s));
    server.on('stream', (stream) => {
      setTimeout(() => {
        stream.respond({ ':status': 200 });
        stream.end('late');
      }, 500);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const serverPort = (server.address() as AddressInfo).port;
    const pool = new H2SessionPool({ keepaliveMs: 50, keepaliveTimeoutMs: 100 });
    try {
      const session = await get(pool, serverPort);
      const stream = session.request({ ':path': '/slow' }, { endStream: true });
      let body = '';
      stream.on('data', (c: Buffer) => {
        body += c.toString();
      });
      await new Promise<void>((r) => stream.once('end', () => r()));
      assert.equal(body, 'late');
      assert.equal(session.destroyed, false);
      assert.equal(pool.size, 1);
    } finally {
      await pool.close(false);
      for (const s of serverSessions) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
