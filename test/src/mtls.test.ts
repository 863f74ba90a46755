/**
 * The mesh hop is mutual TLS, across real processes: who may reach an
 * inbound listener (a mesh certificate, not another CA's, not a revoked
 * agent's), the caller's check that the peer is the agent it meant, the
 * hop's protocol as the inbound side counts it, and renewal under load.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import tls from 'node:tls';
import { newKeyAndCsr } from '@weft/agent/identity/key-and-csr';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';
import { MeshCa } from '@weft/control-plane/ca/mesh-ca';
import { createLogger } from '@weft/shared';
import { type AgentProc, echoHandler, Mesh, postJson, registerWith, runWeft, send, viaProxy, waitFor } from './harness.js';

/** A certificate for `spiffeId` from a CA of its own (not the mesh's). */
async function foreignIdentity(spiffeId: string): Promise<{ key: string; cert: string; ca: string }> {
  const ca = await MeshCa.open({
    dataDir: mkdtempSync(join(tmpdir(), 'weft-other-ca-')),
    trustDomain: 'weft.local',
    logger: createLogger({}, { level: 'error' }),
  });
  const { keyPem, csrPem } = await newKeyAndCsr('intruder');
  const issued = await ca.issueFromCsr(csrPem, spiffeId, 3_600_000);
  return { key: keyPem, cert: issued.certificatePem, ca: ca.bundlePem() };
}

/** Outcome of a raw TLS client sending one HTTP request to an inbound listener. */
async function rawRequest(
  port: number,
  options: tls.ConnectionOptions,
): Promise<{ handshake: 'ok' | string; response: string; error?: string }> {
  return new Promise((resolve) => {
    let handshake = 'pending';
    let response = '';
    const s = tls.connect({ host: '127.0.0.1', port, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined, ...options });
    s.on('secureConnect', () => {
      handshake = 'ok';
      s.write('GET / HTTP/1.1\r\nhost: x\r\nx-weft-instance: orders-1\r\n\r\n');
    });
    s.on('data', (d: Buffer) => {
      response += d.toString('latin1');
    });
    const done = (error?: string) => resolve({ handshake, response, error });
    s.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    s.on('close', () => done());
    s.setTimeout(5_000, () => s.destroy(new Error('timeout')));
  });
}

async function metricsOf(agent: AgentProc): Promise<string> {
  return (await send({ port: agent.adminPort, path: '/metrics' })).body.toString();
}

function metric(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

describe('mtls: who may reach an inbound listener', () => {
  const mesh = new Mesh();
  after(() => mesh.close());

  test('requests flow A -> B over TLS 1.3 with client certificates; new connections resume the session', async () => {
    const cp = await mesh.controlPlane();
    const a = await mesh.agent('tls-a', cp.grpcPort);
    const b = await mesh.agent('tls-b', cp.grpcPort);
    const orders = await mesh.service(echoHandler('orders-1'));
    await registerWith(b, { name: 'orders', port: orders.port, id: 'orders-1' });
    await waitFor('orders routable from A', async () => (await viaProxy(a.outboundPort, 'http://orders/x')).status === 200);
    // Concurrent requests open more connections to B, the later ones with the session ticket of an earlier one.
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(Array.from({ length: 8 }, () => viaProxy(a.outboundPort, 'http://orders/y')));
      assert.deepEqual(
        answers.map((r) => r.status),
        Array(8).fill(200),
      );
    }
    const m = await metricsOf(b);
    const full = metric(m, 'weft_inbound_tls_connections_total', 'protocol="TLSv1.3",resumed="false"');
    const resumed = metric(m, 'weft_inbound_tls_connections_total', 'protocol="TLSv1.3",resumed="true"');
    assert.ok(full >= 1, `B counted its mTLS connections:\n${m}`);
    assert.ok(resumed >= 1, `later connections resumed (full ${full}, resumed ${resumed})`);
    assert.equal(metric(m, 'weft_inbound_tls_connections_total', 'protocol="TLSv1.2",resumed="false"'), 0);
    assert.ok(b.logLines.some((l) => l.includes('"meshHop":"mTLS (TLS 1.3)"')));
  });

  test('a client without a mesh certificate cannot reach the inbound listener: plain HTTP, TLS without a certificate, TLS 1.2', async () => {
    const cp = await mesh.controlPlane({ dataDir: join(mesh.dir, 'cp-nocert') });
    const b = await mesh.agent('nocert-b', cp.grpcPort);
    const { ca } = mesh.meshTls('nocert-b');
    const plain = await send({ port: b.inboundPort, path: '/', headers: { host: 'x' }, timeoutMs: 3_000 }).then(
      (r) => `status ${r.status}`,
      (err: Error) => err.message,
    );
    assert.doesNotMatch(plain, /^status/, 'plaintext HTTP gets no answer');
    const noCert = await rawRequest(b.inboundPort, { ca });
    assert.equal(noCert.response, '', 'no byte of HTTP without a client certificate');
    assert.equal(noCert.error, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    const { key, cert } = mesh.meshTls('nocert-b');
    const old = await rawRequest(b.inboundPort, { ca, key, cert, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    assert.equal(old.response, '');
    assert.equal(old.handshake, 'pending');
    const m = await metricsOf(b);
    assert.ok(metric(m, 'weft_inbound_tls_handshake_failures_total', 'reason="ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"') >= 1, m);
    assert.ok(metric(m, 'weft_inbound_tls_handshake_failures_total', 'reason="ERR_SSL_UNSUPPORTED_PROTOCOL"') >= 1, m);
  });

  test("a certificate from another CA is refused, even one naming a mesh agent's SPIFFE ID", async () => {
    const cp = await mesh.controlPlane({ dataDir: join(mesh.dir, 'cp-foreign') });
    const b = await mesh.agent('foreign-b', cp.grpcPort);
    const { ca } = mesh.meshTls('foreign-b');
    const foreign = await foreignIdentity('spiffe://weft.local/agent/foreign-b');
    const r = await rawRequest(b.inboundPort, { ca, key: foreign.key, cert: foreign.cert });
    assert.equal(r.response, '', 'no byte of HTTP');
    await waitFor('B to count the refusal', async () =>
      /weft_inbound_tls_handshake_failures_total\{reason="[^"]+"\} [1-9]/.test(await metricsOf(b)),
    );
  });

  test("a revoked agent's certificate is refused by its peers, on new and on open connections", async () => {
    const cp = await mesh.controlPlane({ leaseTtl: '30s', dataDir: join(mesh.dir, 'cp-revoked') });
    const a = await mesh.agent('rev-a', cp.grpcPort);
    const b = await mesh.agent('rev-b', cp.grpcPort);
    const orders = await mesh.service(echoHandler('orders-1'));
    await registerWith(b, { name: 'orders', port: orders.port, id: 'orders-1' });
    await waitFor('orders routable from A', async () => (await viaProxy(a.outboundPort, 'http://orders/x')).status === 200);
    const revoked = mesh.meshTls('rev-a');
    const before = await rawRequest(b.inboundPort, { ca: revoked.ca, key: revoked.key, cert: revoked.cert });
    assert.match(before.response, /^HTTP\/1\.1 200/, 'accepted before the revocation');

    const r = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [WEFT_BIN, 'agent', 'revoke', 'rev-a', '--control-plane', `127.0.0.1:${cp.grpcPort}`], (err, _o, stderr) =>
        resolve({ code: err ? 1 : 0, stderr }),
      ),
    );
    assert.equal(r.code, 0, r.stderr);
    await waitFor('B to get the deny list', () => b.logLines.some((l) => l.includes('"deny list updated"') && l.includes('"agents":1')));
    // The revoked agent's own process: on a connection it still holds to B, B answers 403 naming the revocation; on a
    // new one (its pooled connection idled out while the deny list travelled), B refuses the TLS session itself.
    const viaRevoked = await viaProxy(a.outboundPort, 'http://orders/after');
    if (viaRevoked.status === 403) {
      assert.equal(viaRevoked.headers['x-weft-error'], 'forbidden');
      assert.match(viaRevoked.body.toString(), /spiffe:\/\/weft\.local\/agent\/rev-a \(serial [0-9A-F]+, held by agent rev-a\) is revoked/);
    } else {
      assert.equal(viaRevoked.status, 502, viaRevoked.body.toString());
      assert.equal(viaRevoked.headers['x-weft-error'], 'upstream_connect_failed');
      assert.match(viaRevoked.body.toString(), /the peer (refused the TLS session|closed the connection)/);
    }
    // And its certificate on a new connection: refused at the TLS handshake (the deny list is part of B's verification).
    const after_ = await rawRequest(b.inboundPort, { ca: revoked.ca, key: revoked.key, cert: revoked.cert });
    assert.equal(after_.response, '', 'no byte of HTTP for a revoked certificate');
    await waitFor('B to count the refusal at the handshake', async () =>
      /weft_inbound_tls_handshake_failures_total\{reason="ERR_PEER_REVOKED"\} [1-9]/.test(await metricsOf(b)),
    );
    assert.equal(orders.hits, 2, 'the app saw only the requests made before the revocation');
  });
});

describe('mtls: the caller checks who answers', () => {
  const mesh = new Mesh();
  after(() => mesh.close());

  test('a peer whose certificate names another agent, or from another CA, is refused with upstream_connect_failed naming the cause', async () => {
    // B's instance stays listed (long lease) after B is killed; an impostor takes B's inbound port.
    const cp = await mesh.controlPlane({ leaseTtl: '60s' });
    const a = await mesh.agent('who-a', cp.grpcPort);
    const b = await mesh.agent('who-b', cp.grpcPort);
    await mesh.agent('who-c', cp.grpcPort);
    const orders = await mesh.service(echoHandler('orders-1'));
    await registerWith(b, { name: 'orders', port: orders.port, id: 'orders-1' });
    await waitFor('orders routable from A', async () => (await viaProxy(a.outboundPort, 'http://orders/x')).status === 200);
    await b.stop('SIGKILL');

    const impostor = async (identity: { key: string; cert: string }) => {
      const server = tls.createServer({ key: identity.key, cert: identity.cert, minVersion: 'TLSv1.3' }, (s) => {
        s.on('error', () => {});
        s.end('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged');
      });
      server.on('tlsClientError', () => {});
      await new Promise<void>((resolve) => server.listen(b.inboundPort, '127.0.0.1', resolve));
      assert.equal((server.address() as AddressInfo).port, b.inboundPort);
      return server;
    };

    const c = mesh.meshTls('who-c');
    let server = await impostor(c);
    try {
      const r = await viaProxy(a.outboundPort, 'http://orders/x');
      assert.equal(r.status, 502);
      assert.equal(r.headers['x-weft-error'], 'upstream_connect_failed');
      assert.match(
        r.body.toString(),
        /not spiffe:\/\/weft\.local\/svc\/orders \(held by spiffe:\/\/weft\.local\/agent\/who-b\) or spiffe:\/\/weft\.local\/agent\/who-b: its certificate names spiffe:\/\/weft\.local\/agent\/who-c/,
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }

    // Another CA's certificate naming who-b, with that CA's (self-signed) root in the chain it presents.
    const foreign = await foreignIdentity('spiffe://weft.local/agent/who-b');
    server = await impostor({ key: foreign.key, cert: foreign.cert + foreign.ca });
    try {
      const r = await viaProxy(a.outboundPort, 'http://orders/x');
      assert.equal(r.status, 502);
      assert.equal(r.headers['x-weft-error'], 'upstream_connect_failed');
      assert.match(r.body.toString(), /TLS handshake failed: self[- ]signed certificate in certificate chain/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.equal(orders.hits, 1, 'nothing reached the app after B went away');
  });
});

/** Requests from A to `orders` by `concurrency` callers until `stop()`; statuses counted ("200 ", "502 upstream_reset", ...). */
function loadRunner(a: AgentProc, concurrency: number, headers: Record<string, string> = {}) {
  const statuses = new Map<string, number>();
  let running = true;
  let total = 0;
  const done = Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (running) {
        const r = await viaProxy(a.outboundPort, 'http://orders/load', { method: 'POST', body: 'x'.repeat(512), headers }).then(
          (res) => `${res.status} ${res.headers['x-weft-error'] ?? ''}`,
          (err: Error) => `error ${err.message}`,
        );
        statuses.set(r, (statuses.get(r) ?? 0) + 1);
        total++;
      }
    }),
  );
  return {
    statuses,
    get total() {
      return total;
    },
    async stop() {
      running = false;
      await done;
    },
  };
}

const weftCli = runWeft;

/** An agent's GET /v1/certificates: serial of its own certificate and of each hosted service's (upper-case hex). */
async function heldSerials(agent: AgentProc): Promise<{ agent: string; services: Map<string, string> }> {
  const r = await send({ port: agent.adminPort, path: '/v1/certificates' });
  assert.equal(r.status, 200, r.body.toString());
  const j = JSON.parse(r.body.toString()) as {
    agent: { serial: string };
    services: { service: string; certificate?: { serial: string; spiffeId: string } }[];
  };
  const services = new Map<string, string>();
  for (const s of j.services) if (s.certificate !== undefined) services.set(s.service, s.certificate.serial.toUpperCase());
  return { agent: j.agent.serial.toUpperCase(), services };
}

/** The serial of the certificate an inbound listener presents for SNI `service` (what a peer agent sees on the wire). */
function presentedSerial(port: number, identity: { key: string; cert: string; ca: string }, service: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      servername: service,
      ...identity,
      minVersion: 'TLSv1.3',
      checkServerIdentity: () => undefined,
    });
    s.once('secureConnect', () => {
      resolve(s.getPeerCertificate().serialNumber.toUpperCase());
      s.destroy();
    });
    s.once('error', reject);
  });
}

describe('mtls: renewal under load', () => {
  const mesh = new Mesh();
  after(() => mesh.close());

  test('agent and service certificates (3 s) renew under load on the service-to-service hop: zero failed requests, new serials on the wire', async () => {
    const cp = await mesh.controlPlane({ extra: ['--cert-ttl', '3s'], dataDir: join(mesh.dir, 'cp-svc-renewal') });
    const a = await mesh.agent('svc-a', cp.grpcPort, ['--renew-at', '0.4']);
    const b = await mesh.agent('svc-b', cp.grpcPort, ['--renew-at', '0.4']);
    const orders = await mesh.service(echoHandler('orders-1'));
    const idle = await mesh.service(echoHandler('web-1'));
    await registerWith(b, { name: 'orders', port: orders.port, id: 'orders-1' });
    // web, a local app of A with its proxy credential: A presents web's certificate, B presents orders' (by SNI).
    const web = await postJson(a.adminPort, '/v1/services', { name: 'web', port: idle.port, id: 'web-1' });
    assert.equal(web.status, 201, JSON.stringify(web.json));
    const asWeb = { 'proxy-authorization': `Basic ${Buffer.from(`web:${String(web.json.credential)}`).toString('base64')}` };
    await waitFor(
      'orders routable from A as web',
      async () => (await viaProxy(a.outboundPort, 'http://orders/x', { headers: asWeb })).status === 200,
    );
    const first = await waitFor('both service certificates issued', async () => {
      const [ha, hb] = [await heldSerials(a), await heldSerials(b)];
      return ha.services.has('web') && hb.services.has('orders') ? { a: ha, b: hb } : undefined;
    });
    const firstOnWire = await presentedSerial(b.inboundPort, mesh.meshTls('svc-a'), 'orders');

    const load = loadRunner(a, 8, asWeb);
    try {
      // Long enough for several renewals of every 3 s certificate (each renewed after ~1.2 s).
      await new Promise((r) => setTimeout(r, 4_000));
    } finally {
      await load.stop();
    }
    assert.deepEqual([...load.statuses.keys()], ['200 '], `every request succeeded: ${JSON.stringify([...load.statuses])}`);
    assert.ok(load.total > 50, `load ran (${load.total} requests)`);
    // B's access log of the hop would show the source; here the proof is that the service certificates changed under it.
    const [ha, hb] = [await heldSerials(a), await heldSerials(b)];
    assert.notEqual(ha.agent, first.a.agent, 'agent A renewed its certificate');
    assert.notEqual(hb.agent, first.b.agent, 'agent B renewed its certificate');
    assert.notEqual(ha.services.get('web'), first.a.services.get('web'), "A renewed web's certificate");
    assert.notEqual(hb.services.get('orders'), first.b.services.get('orders'), "B renewed orders' certificate");
    const renewals = (p: AgentProc, service: string) =>
      p.logLines.filter((l) => l.includes('"service certificate issued"') && l.includes(`"service":"${service}"`)).length;
    assert.ok(renewals(a, 'web') >= 2 && renewals(b, 'orders') >= 2, `issued web ${renewals(a, 'web')}, orders ${renewals(b, 'orders')}`);
    // The new certificate is the one on the wire: a new connection with SNI orders gets a serial B now lists, not the first.
    const onWire = await presentedSerial(b.inboundPort, mesh.meshTls('svc-a'), 'orders');
    assert.equal(firstOnWire, first.b.services.get('orders'));
    assert.notEqual(onWire, firstOnWire);
    const listed = (await heldSerials(b)).services.get('orders');
    assert.ok(onWire === listed || onWire === hb.services.get('orders'), `on the wire ${onWire}, listed ${listed}`);

    // Operators see the same through the CLI.
    const status = await weftCli(['status', '--agent', `127.0.0.1:${b.adminPort}`]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /agent svc-b .*1 service certificate/);
    assert.match(status.stdout, /^orders\s+spiffe:\/\/weft\.local\/svc\/orders\s+[0-9A-F]+\s+\d{4}-\d\d-\d\dT[\d:]+Z/m);
    assert.match(status.stdout, /^\(agent\)\s+spiffe:\/\/weft\.local\/agent\/svc-b\s/m);
  });

  test('a CA rotation (add, activate, remove) under load: zero failed requests', async () => {
    const cp = await mesh.controlPlane({ extra: ['--cert-ttl', '3s'], dataDir: join(mesh.dir, 'cp-rotation') });
    const a = await mesh.agent('rot-a', cp.grpcPort, ['--renew-at', '0.4']);
    const b = await mesh.agent('rot-b', cp.grpcPort, ['--renew-at', '0.4']);
    const orders = await mesh.service(echoHandler('orders-1'));
    await registerWith(b, { name: 'orders', port: orders.port, id: 'orders-1' });
    await waitFor('orders routable from A', async () => (await viaProxy(a.outboundPort, 'http://orders/x')).status === 200);
    const cpAddr = ['--control-plane', `127.0.0.1:${cp.grpcPort}`];
    const roots = async () => {
      const r = await weftCli(['ca', 'list', ...cpAddr]);
      assert.equal(r.code, 0, r.stderr);
      return [...r.stdout.matchAll(/^([0-9a-f]{64})\s+(yes)?/gm)].map((m) => ({ fingerprint: m[1]!, active: m[2] === 'yes' }));
    };
    const [old] = await roots();
    assert.ok(old);

    const load = loadRunner(a, 8);
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    try {
      const add = await weftCli(['ca', 'add', ...cpAddr]);
      assert.equal(add.code, 0, add.stderr);
      const added = (await roots()).find((r) => r.fingerprint !== old.fingerprint);
      assert.ok(added);
      await waitFor('both agents to hold the two-root bundle', () =>
        [a, b].every((p) => p.logLines.some((l) => l.includes('"CA bundle updated"') && l.includes('"roots":2'))),
      );
      const activate = await weftCli(['ca', 'activate', added.fingerprint, ...cpAddr]);
      assert.equal(activate.code, 0, activate.stderr);
      // More than a certificate lifetime: every agent certificate now comes from the new root.
      await pause(4_000);
      const remove = await weftCli(['ca', 'remove', old.fingerprint, ...cpAddr]);
      assert.equal(remove.code, 0, remove.stderr);
      await waitFor('both agents to drop the old root', () =>
        [a, b].every((p) => p.logLines.some((l) => l.includes('"CA bundle updated"') && l.includes('"roots":1'))),
      );
      // Idle longer than the pools' keep-alive, then load again: new connections under the new root only.
      await pause(500);
    } finally {
      await load.stop();
    }
    await pause(5_000);
    const again = loadRunner(a, 8);
    await pause(2_000);
    await again.stop();
    const all = new Map([...load.statuses]);
    for (const [k, v] of again.statuses) all.set(k, (all.get(k) ?? 0) + v);
    assert.deepEqual([...all.keys()], ['200 '], `every request succeeded: ${JSON.stringify([...all])}`);
    assert.ok(load.total + again.total > 100, `load ran (${load.total} + ${again.total} requests)`);
  });

  test('3 s certificates renewed on both agents under load: zero failed requests, new connections use the new certificate', async () => {
    const cp = await mesh.controlPlane({ extra: ['--cert-ttl', '3s'] });
    const a = await mesh.agent('load-a', cp.grpcPort, ['--renew-at', '0.4']);
    const b = await mesh.agent('load-b', cp.grpcPort, ['--renew-at', '0.4']);
    const orders = await mesh.service(echoHandler('orders-1'));
    await registerWith(b, { name: 'orders', port: orders.port, id: 'orders-1' });
    await waitFor('orders routable from A', async () => (await viaProxy(a.outboundPort, 'http://orders/x')).status === 200);

    const statuses = new Map<string, number>();
    let total = 0;
    const burst = async (ms: number) => {
      const load = loadRunner(a, 12);
      await new Promise((r) => setTimeout(r, ms));
      await load.stop();
      for (const [k, v] of load.statuses) statuses.set(k, (statuses.get(k) ?? 0) + v);
      total += load.total;
    };
    // Bursts separated by more than the pools' 4 s keep-alive: each burst opens new connections, which would be
    // refused if they still used a certificate from before the pause (3 s certificates have expired by then).
    for (let i = 0; i < 3; i++) {
      await burst(2_500);
      if (i < 2) await new Promise((r) => setTimeout(r, 5_500));
    }
    assert.deepEqual([...statuses.keys()], ['200 '], `every request succeeded: ${JSON.stringify([...statuses])}`);
    assert.ok(total > 100, `load ran (${total} requests)`);
    const renewed = (p: AgentProc) => p.logLines.filter((l) => l.includes('"certificate renewed"')).length;
    assert.ok(renewed(a) >= 3 && renewed(b) >= 3, `both agents renewed several times (A ${renewed(a)}, B ${renewed(b)})`);
    const m = await metricsOf(b);
    const conns =
      metric(m, 'weft_inbound_tls_connections_total', 'protocol="TLSv1.3",resumed="false"') +
      metric(m, 'weft_inbound_tls_connections_total', 'protocol="TLSv1.3",resumed="true"');
    assert.ok(conns >= 13, `later bursts opened new connections (${conns})`);
  });
});
