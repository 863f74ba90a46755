/**
 * The mesh hop's mTLS over the codec, in one process: an Http1Server with
 * MeshTls's server options and Http1Pools with its client TLS, certificates
 * from a throwaway CA. Renewal, resumption and the caller's identity check.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { createLogger } from '@weft/shared';
import type { ClientHandler } from '../http1/client-connection.js';
import { Http1Pool } from '../http1/client-pool.js';
import { PeerIdentityError, TlsHandshakeError } from '../http1/errors.js';
import { Http1Server } from '../http1/server.js';
import { AgentIdentity, type IdentitySnapshot, snapshotOf } from '../identity/agent-identity.js';
import { MeshTls } from './mesh-tls.js';
import { sourceFromPeerCertificate } from './peer-source.js';
import { heldServices, type TestCa, testCa } from './test-mesh-ca.js';

const log = createLogger({}, { level: 'error' });

async function identity(ca: TestCa, agentId: string): Promise<AgentIdentity> {
  const { keyPem, certificatePem } = await ca.issue(agentId);
  return new AgentIdentity(snapshotOf(keyPem, certificatePem, ca.pem, 'test'), log);
}

async function renewed(ca: TestCa, id: AgentIdentity): Promise<IdentitySnapshot> {
  const { keyPem, certificatePem } = await ca.issue(id.current().agentId);
  return snapshotOf(keyPem, certificatePem, ca.pem, 'test');
}

/** An mTLS Http1Server answering with who called it (agent, certificate serial, resumed) and a connection number. */
async function meshServer(t: TestContext, tls: MeshTls) {
  const sockets = new Map<unknown, number>();
  const server: Http1Server = new Http1Server({
    maxHeaderBytes: 16 * 1024,
    maxHeaderCount: 100,
    // Also the handshake timeout: a handshake the client gave up on holds server.close() until it lapses.
    headersTimeoutMs: 500,
    requestTimeoutMs: 5_000,
    keepAliveTimeoutMs: 5_000,
    checkIntervalMs: 100,
    tls: tls.serverOptions(),
    onRequest(req, res) {
      const source = sourceFromPeerCertificate(req.tls);
      const cert = req.tls?.peerCertificate;
      if (cert !== undefined && !sockets.has(cert)) sockets.set(cert, sockets.size + 1);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          agent: source?.agentId,
          service: source?.service,
          holder: source?.holder,
          serial: source?.serial,
          protocol: req.tls?.protocol,
          resumed: req.tls?.resumed,
          conn: cert === undefined ? 0 : sockets.get(cert),
          sharedReads: server.sharedReads,
        }),
      );
    },
    refuse(socket) {
      socket.destroy();
    },
    onConnect(socket) {
      socket.destroy();
    },
  });
  const unwatch = tls.watchServerContext((options) => server.setSecureContext(options));
  const { port } = await server.listen(0, '127.0.0.1');
  t.after(
    () =>
      new Promise<void>((resolve) => {
        unwatch();
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  return port;
}

interface Answer {
  agent?: string;
  service?: string;
  holder?: string;
  serial?: string;
  protocol?: string;
  resumed?: boolean;
  conn: number;
  sharedReads?: boolean;
}

function get(pool: Http1Pool): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const handler: ClientHandler = {
      onConnect() {},
      onHeaders: () => true,
      onData(chunk) {
        parts.push(chunk);
        return true;
      },
      onComplete: () => resolve(JSON.parse(Buffer.concat(parts).toString()) as Answer),
      onError: reject,
    };
    pool.dispatch({ method: 'GET', path: '/', headers: { host: 'peer' }, body: null }, handler);
  });
}

function pool(t: TestContext, tls: MeshTls, port: number, peer: string, route?: { service?: string; source?: string }): Http1Pool {
  const origin = `http://127.0.0.1:${port}`;
  const p = new Http1Pool('127.0.0.1', port, {
    keepAliveTimeoutMs: 4_000,
    connectTimeoutMs: 2_000,
    meshTls: tls.clientFor(origin, peer, route),
  });
  t.after(() => p.close(false));
  return p;
}

/** Agent A (the caller, with a pool to B) and agent B (serving), both certified by `ca`. */
async function callerAndPeer(t: TestContext, ca: TestCa) {
  const [a, b] = await Promise.all([identity(ca, 'a'), identity(ca, 'b')]);
  const port = await meshServer(t, new MeshTls({ identity: b, logger: log }));
  return { ca, a, b, p: pool(t, new MeshTls({ identity: a, logger: log }), port, 'b') };
}

describe('mesh TLS over the codec', () => {
  it('carries requests over TLS 1.3; the server reads the caller from its certificate; a second connection resumes', async (t) => {
    const { a, p } = await callerAndPeer(t, await testCa());
    const first = await get(p);
    // sharedReads: decrypted reads land in the shared buffer (tls-accept.ts), not in 'data' events.
    assert.deepEqual(first, {
      agent: 'a',
      holder: 'a',
      serial: a.current().serial,
      protocol: 'TLSv1.3',
      resumed: false,
      conn: 1,
      sharedReads: true,
    });
    assert.equal((await get(p)).conn, 1, 'the connection is kept');
    // Two at once: the second request needs a second connection, which resumes the first one's session.
    const both = await Promise.all([get(p), get(p)]);
    const fresh = both.find((x) => x.conn !== 1);
    assert.equal(fresh?.resumed, true);
    assert.equal(fresh?.agent, 'a', 'a resumed session keeps the caller identity');
  });

  it('after a renewal, new connections on both sides use the new certificates and the open one carries on', async (t) => {
    const { ca, a, b, p } = await callerAndPeer(t, await testCa());
    const before = await get(p);
    const oldSerial = a.current().serial;
    a.replace(await renewed(ca, a));
    b.replace(await renewed(ca, b));
    assert.deepEqual(await get(p), before, 'the open connection keeps its certificate');
    const both = await Promise.all([get(p), get(p)]);
    const fresh = both.find((x) => x.conn !== before.conn);
    assert.ok(fresh);
    assert.equal(fresh.serial, a.current().serial, 'the new connection presents the renewed certificate');
    assert.notEqual(fresh.serial, oldSerial);
    assert.equal(fresh.resumed, false, 'tickets from before the renewal are not used');
  });

  it('a CA rotation: with both roots in the bundles, an agent on the new root and one on the old reach each other', async (t) => {
    const [oldCa, newCa] = await Promise.all([testCa(), testCa()]);
    const { a, b, p } = await callerAndPeer(t, oldCa);
    const before = await get(p);
    // The new bundle reaches both agents (trust/bundle), then B renews under the new root; A still holds an old-root certificate.
    const both = oldCa.pem + newCa.pem;
    a.replace(Object.freeze({ ...a.current(), caBundlePem: both }));
    b.replace(Object.freeze({ ...b.current(), caBundlePem: both }));
    const issued = await newCa.issue('b');
    b.replace(snapshotOf(issued.keyPem, issued.certificatePem, both, 'test'));
    assert.deepEqual(await get(p), before, 'the open connection carries on');
    const answers = await Promise.all([get(p), get(p)]);
    const fresh = answers.find((x) => x.conn !== before.conn);
    assert.ok(fresh, 'a new connection was opened');
    assert.equal(fresh.agent, 'a');
    // And the other way round: A on the new root, calling B.
    const a2 = await newCa.issue('a');
    a.replace(snapshotOf(a2.keyPem, a2.certificatePem, both, 'test'));
    const again = await Promise.all([get(p), get(p), get(p)]);
    assert.ok(
      again.some((x) => x.serial === a.current().serial),
      'a connection with the new-root certificate was accepted',
    );
  });

  it('the caller refuses a peer that is another agent, a revoked agent, or has no certificate of its CA', async (t) => {
    const ca = await testCa();
    const other = await testCa();
    const [a, b, c] = await Promise.all([identity(ca, 'a'), identity(ca, 'b'), identity(ca, 'c')]);
    const client = new MeshTls({ identity: a, logger: log });
    const port = await meshServer(t, new MeshTls({ identity: c, logger: log }));

    const wrong = await get(pool(t, client, port, 'b')).then(
      () => assert.fail('expected a refusal'),
      (err: unknown) => err,
    );
    assert.ok(wrong instanceof PeerIdentityError);
    assert.equal(wrong.code, 'H1_PEER_IDENTITY');
    assert.equal(wrong.expected, 'spiffe://weft.local/agent/b');
    assert.equal(wrong.presented, 'spiffe://weft.local/agent/c');

    a.setRevocations('1', ['c'], []);
    const revoked = await get(pool(t, client, port, 'c')).then(
      () => assert.fail('expected a refusal'),
      (err: unknown) => err,
    );
    assert.ok(revoked instanceof PeerIdentityError);
    assert.match(revoked.message, /agent\/c, which is revoked/);

    const foreignPort = await meshServer(t, new MeshTls({ identity: await identity(other, 'b'), logger: log }));
    const foreign = await get(pool(t, client, foreignPort, 'b')).then(
      () => assert.fail('expected a refusal'),
      (err: unknown) => err,
    );
    assert.ok(foreign instanceof TlsHandshakeError);
    assert.equal(foreign.code, 'H1_TLS_HANDSHAKE');
    void b;
  });

  it('a caller whose certificate the server does not trust gets a TlsHandshakeError, not a reset', async (t) => {
    const ca = await testCa();
    const other = await testCa();
    const b = await identity(ca, 'b');
    // Trusts the mesh CA (so the server checks out) but presents another CA's certificate.
    const stranger = await other.issue('a');
    const a = new AgentIdentity(snapshotOf(stranger.keyPem, stranger.certificatePem, ca.pem, 'test'), log);
    const port = await meshServer(t, new MeshTls({ identity: b, logger: log }));
    const err = await get(pool(t, new MeshTls({ identity: a, logger: log }), port, 'b')).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof TlsHandshakeError, String(err));
    assert.match(
      err.message,
      /the peer (refused the TLS session after the handshake|closed the connection at the end of the TLS handshake)/,
    );
  });

  it("service certificates: the server presents the one named by SNI, the caller presents its source service's and checks the holder", async (t) => {
    const ca = await testCa();
    const [a, b, c] = await Promise.all([identity(ca, 'a'), identity(ca, 'b'), identity(ca, 'c')]);
    const web = await ca.issueService('web', 'a');
    const ordersOfB = await ca.issueService('orders', 'b');
    const ordersOfC = await ca.issueService('orders', 'c');
    const portB = await meshServer(t, new MeshTls({ identity: b, logger: log, services: heldServices({ orders: ordersOfB }) }));
    const caller = new MeshTls({ identity: a, logger: log, services: heldServices({ web }) });
    t.after(() => caller.close());
    // SNI orders: B presents orders' certificate (held by b), A presents web's: B reads service web held by agent a.
    const asWeb = await get(pool(t, caller, portB, 'b', { service: 'orders', source: 'web' }));
    assert.deepEqual([asWeb.service, asWeb.holder, asWeb.agent], ['web', 'a', undefined]);
    // No source: the agent's own certificate; a service B does not hold: B's own certificate (accepted as the fallback).
    const asAgent = await get(pool(t, caller, portB, 'b', { service: 'stock' }));
    assert.deepEqual([asAgent.agent, asAgent.service], ['a', undefined]);
    // C holds a certificate of orders too, but the caller meant agent b's instance: refused before the request is sent.
    const portC = await meshServer(t, new MeshTls({ identity: c, logger: log, services: heldServices({ orders: ordersOfC }) }));
    const err = await get(pool(t, caller, portC, 'b', { service: 'orders' })).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PeerIdentityError, String(err));
    assert.match(
      err.message,
      /presents service orders's certificate held by spiffe:\/\/weft\.local\/agent\/c, not by spiffe:\/\/weft\.local\/agent\/b/,
    );
  });

  it("a source service's certificate issued after its first call: the pool's warm connection (made as the agent) is not reused", async (t) => {
    const ca = await testCa();
    const [a, b] = await Promise.all([identity(ca, 'a'), identity(ca, 'b')]);
    const portB = await meshServer(t, new MeshTls({ identity: b, logger: log }));
    const held = heldServices({});
    const caller = new MeshTls({ identity: a, logger: log, services: held });
    t.after(() => caller.close());
    const p = pool(t, caller, portB, 'b', { service: 'orders', source: 'web' });
    // No certificate for web yet: the agent's own identity, on one kept-alive connection.
    const first = await get(p);
    assert.deepEqual([first.agent, first.service], ['a', undefined]);
    assert.equal((await get(p)).conn, first.conn, 'the connection is reused while the identity is unchanged');
    held.hold('web', await ca.issueService('web', 'a'));
    const after = await get(p);
    assert.deepEqual([after.service, after.holder, after.agent], ['web', 'a', undefined]);
    assert.notEqual(after.conn, first.conn, 'a new connection presents the new identity');
    assert.equal(p.stats.connections, 1, 'the old connection was closed, not kept idle');
  });

  it('a session ticket from a handshake made before the source certificate changed is not kept (it would resume as the old identity)', async (t) => {
    const ca = await testCa();
    const a = await identity(ca, 'a');
    const held = heldServices({});
    const caller = new MeshTls({ identity: a, logger: log, services: held });
    t.after(() => caller.close());
    const client = caller.clientFor('http://127.0.0.1:1', 'b', { service: 'orders', source: 'web' });
    const before = client.generation;
    held.hold('web', await ca.issueService('web', 'a'));
    assert.notEqual(client.generation, before);
    client.onSession(Buffer.from('ticket of the agent identity'), before);
    assert.equal(client.connectOptions().session, undefined);
    const current = Buffer.from('ticket of the web identity');
    client.onSession(current, client.generation);
    assert.equal(client.connectOptions().session, current);
  });
});
