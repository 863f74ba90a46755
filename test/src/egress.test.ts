/**
 * End to end, real processes and sockets: calls that leave the mesh. Local
 * node servers stand in for outside hosts (loopback only: 127.0.0.1 and
 * `localhost`); `weft apply` declares them as ExternalService documents; apps
 * call them through the agent's outbound listener as an HTTP proxy (node's
 * http client in absolute form, undici's EnvHttpProxyAgent, python's urllib
 * and curl when present), with TLS originated by the agent (a test CA passed
 * with NODE_EXTRA_CA_CERTS), and through CONNECT tunnels.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { metricValue } from '@weft/agent/proxy/fault-upstreams';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';
import { EnvHttpProxyAgent, ProxyAgent, fetch as undiciFetch } from 'undici';
import { type AgentProc, type ControlPlaneProc, echoHandler, getJson, Mesh, type TestService, viaProxy, waitFor } from './harness.js';
import { agentMetrics } from './harness-faults.js';

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const weft = (args: string[]) => run(process.execPath, [WEFT_BIN, ...args]);

/** Until its stream is up an agent answers a new host control_plane_unavailable. */
function connected(agent: AgentProc): Promise<boolean> {
  return waitFor(`${agent.agentId} connected`, async () => (await getJson<{ connected: boolean }>(agent.adminPort, '/ready')).connected);
}

function has(binary: string, versionArg = '--version'): boolean {
  try {
    execFileSync(binary, [versionArg], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A test CA and a certificate it signs for localhost / 127.0.0.1 (openssl; the tests that need it skip without). */
function makeCerts(dir: string): { ca: string; cert: string; key: string } | undefined {
  if (!has('openssl', 'version')) return undefined;
  const p = (f: string) => join(dir, f);
  const o = (args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  o([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=weft test CA',
  ]);
  o(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', p('server.key'), '-out', p('server.csr'), '-subj', '/CN=localhost']);
  writeFileSync(p('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  o([
    'x509',
    '-req',
    '-in',
    p('server.csr'),
    '-CA',
    p('ca.pem'),
    '-CAkey',
    p('ca.key'),
    '-CAcreateserial',
    '-out',
    p('server.pem'),
    '-days',
    '2',
    '-extfile',
    p('ext.cnf'),
  ]);
  return { ca: p('ca.pem'), cert: p('server.pem'), key: p('server.key') };
}

/** An HTTPS server on 127.0.0.1:0 answering with what it saw, including the SNI it was reached with. */
async function httpsService(certs: { cert: string; key: string }): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = https.createServer({ cert: readFileSync(certs.cert), key: readFileSync(certs.key) }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ url: req.url, host: req.headers.host, sni: (req.socket as TLSSocket).servername }));
  });
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Sends `CONNECT target` to the outbound listener; resolves with the status, headers and body of a refusal, or the tunnel's socket. */
function connectVia(
  port: number,
  target: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; socket?: Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'CONNECT', path: target, agent: false });
    // Node reports every answer to CONNECT as 'connect'; a refusal's body follows on the socket.
    req.on('connect', (res, socket: Socket, head: Buffer) => {
      const status = res.statusCode ?? 0;
      if (status === 200) return resolve({ status, headers: res.headers, body: '', socket });
      const parts = [head];
      socket.on('data', (c: Buffer) => parts.push(c));
      socket.on('end', () => resolve({ status, headers: res.headers, body: Buffer.concat(parts).toString() }));
      socket.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * A raw HTTP/1.1 server on `address`: the first request for each path is
 * received in full and then its connection is reset without an answer; later
 * ones get 200. `seen` counts requests per "METHOD path".
 */
async function resetFirstServer(address: string): Promise<{ port: number; seen: Map<string, number>; close(): Promise<void> }> {
  const seen = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (buf.length < end + 4 + length) return;
      buf = buf.subarray(end + 4 + length);
      const [method, path] = head.split(' ');
      const key = `${method} ${path}`;
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      if (n === 1) socket.resetAndDestroy();
      else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
  });
  await new Promise<void>((r) => server.listen(0, address, r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('calls that leave the mesh (ExternalService)', () => {
  const mesh = new Mesh();
  let cp: ControlPlaneProc;
  let agent: AgentProc;
  let cpAddr: string;
  let plain: TestService;
  let certs: ReturnType<typeof makeCerts>;
  let secure: Awaited<ReturnType<typeof httpsService>> | undefined;

  before(async () => {
    cp = await mesh.controlPlane();
    cpAddr = `127.0.0.1:${cp.grpcPort}`;
    certs = makeCerts(mesh.dir);
    agent = await mesh.agent('agent-a', cp.grpcPort, [], certs ? { NODE_EXTRA_CA_CERTS: certs.ca } : undefined);
    await connected(agent);
    plain = await mesh.service(echoHandler('outside'));
    if (certs) secure = await httpsService(certs);
    const docs = [
      `apiVersion: weft.dev/v1
kind: ExternalService
metadata:
  service: outside-http
host: 127.0.0.1
port: ${plain.port}
tls: false
`,
    ];
    if (secure)
      docs.push(`apiVersion: weft.dev/v1
kind: ExternalService
metadata:
  service: outside-tls
host: localhost
port: ${secure.port}
tls: true
`);
    const file = join(mesh.dir, 'external.yaml');
    writeFileSync(file, docs.join('---\n'));
    const r = await weft(['apply', '-f', file, '--control-plane', cpAddr]);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    await secure?.close();
    await mesh.close();
  });

  test('weft apply refuses a broken ExternalService with every problem at once, and --dry-run shows the plan', async () => {
    const bad = join(mesh.dir, 'bad.yaml');
    writeFileSync(
      bad,
      `apiVersion: weft.dev/v1
kind: ExternalService
metadata:
  service: Bad_Name
host: https://api.example.com:443
port: 70000
tls: "yes"
`,
    );
    const r = await weft(['apply', '-f', bad, '--dry-run', '--control-plane', cpAddr]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /4 problems/);
    assert.match(r.stderr, /line 4: metadata\.service/);
    assert.match(r.stderr, /line 5: host: must be a bare host name/);
    assert.match(r.stderr, /line 6: port: must be an integer 1\.\.65535/);
    assert.match(r.stderr, /line 7: tls: must be true/);
    const ok = join(mesh.dir, 'dry.yaml');
    writeFileSync(
      ok,
      'apiVersion: weft.dev/v1\nkind: ExternalService\nmetadata:\n  service: dry\nhost: api.example.com\nport: 443\ntls: true\n',
    );
    const dry = await weft(['apply', '-f', ok, '--dry-run', '--control-plane', cpAddr]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /ExternalService dry: create \(dry run\)/);
    const dup = join(mesh.dir, 'dup.yaml');
    writeFileSync(
      dup,
      `apiVersion: weft.dev/v1\nkind: ExternalService\nmetadata:\n  service: again\nhost: 127.0.0.1\nport: 80\ntls: false\n`,
    );
    const refused = await weft(['apply', '-f', dup, '--control-plane', cpAddr]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /host: 127\.0\.0\.1 is already declared by ExternalService outside-http/);
  });

  test('weft get external prints the stored documents back', async () => {
    const r = await weft(['get', 'external', '--control-plane', cpAddr]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /kind: ExternalService/);
    assert.match(r.stdout, /service: outside-http/);
    assert.match(r.stdout, new RegExp(`port: ${plain.port}`));
  });

  test('reaches a declared plain-HTTP host with the agent as HTTP proxy (absolute-form), counted under its name', async () => {
    const r = await viaProxy(agent.outboundPort, `http://127.0.0.1:${plain.port}/hello?x=1`);
    assert.equal(r.status, 200, r.body.toString());
    const seen = JSON.parse(r.body.toString()) as { url: string; headers: Record<string, string> };
    assert.equal(seen.url, '/hello?x=1');
    assert.equal(seen.headers.host, `127.0.0.1:${plain.port}`);
    assert.equal(seen.headers['x-forwarded-for'], undefined, 'the caller address is not sent outside');
    const noPort = await viaProxy(agent.outboundPort, 'http://127.0.0.1/no-port');
    assert.equal(noPort.status, 200, 'without a port the declared one is used');
    const m = await agentMetrics(agent);
    assert.ok(metricValue(m, 'response_total', { direction: 'outbound', dst_service: 'outside-http', status_code: '200' }) >= 2);
  });

  test('a client honouring HTTP_PROXY reaches it: undici EnvHttpProxyAgent, python urllib, curl -x', async (t) => {
    const proxy = `http://127.0.0.1:${agent.outboundPort}`;
    const dispatcher = new EnvHttpProxyAgent({ httpProxy: proxy, noProxy: '' });
    try {
      const res = await undiciFetch(`http://127.0.0.1:${plain.port}/undici`, { dispatcher });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { url: string }).url, '/undici');
    } finally {
      await dispatcher.close();
    }
    await t.test('python3 urllib (HTTP_PROXY)', { skip: !has('python3') && 'python3 not installed' }, async () => {
      const r = await run(
        'python3',
        [
          '-c',
          'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())',
          `http://127.0.0.1:${plain.port}/python`,
        ],
        { HTTP_PROXY: proxy, http_proxy: proxy, NO_PROXY: '', no_proxy: '' },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { url: string }).url, '/python');
    });
    await t.test('curl -x', { skip: !has('curl') && 'curl not installed' }, async () => {
      const r = await run('curl', ['-sS', '-x', proxy, `http://127.0.0.1:${plain.port}/curl`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { url: string }).url, '/curl');
    });
  });

  test('an undeclared host is refused unknown_service with how to declare it or bypass the proxy', async () => {
    for (const url of ['http://api.undeclared.example/x', 'http://nosuchservice/x', `http://127.0.0.1:${plain.port + 1}/wrong-port`]) {
      const r = await viaProxy(agent.outboundPort, url);
      assert.equal(r.status, 404, url);
      assert.equal(r.headers['x-weft-error'], 'unknown_service', url);
      const body = r.body.toString();
      if (url.includes('wrong-port')) assert.match(body, /declares 127\.0\.0\.1 on port/);
      else {
        assert.match(body, /kind: ExternalService/, url);
        assert.match(body, /NO_PROXY/, url);
      }
    }
  });

  test('Routes written for the ExternalService name apply to calls to its host', async () => {
    // The agent learned outside-http in an earlier test, and with it subscribed policy/outside-http.
    assert.equal((await viaProxy(agent.outboundPort, `http://127.0.0.1:${plain.port}/warm`)).status, 200);
    const file = join(mesh.dir, 'routes.yaml');
    writeFileSync(
      file,
      `apiVersion: weft.dev/v1
kind: Routes
metadata:
  service: outside-http
rules:
  - name: maintenance
    match: { path: { exact: /maintenance } }
    directResponse: { status: 503, body: outside is down }
  - name: tagged
    route: [{ service: outside-http }]
    requestHeaders: { set: { x-from-mesh: "1" } }
`,
    );
    const r = await weft(['apply', '-f', file, '--wait', '--control-plane', cpAddr]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /no instances yet/, 'an ExternalService is a destination without instances');
    const direct = await viaProxy(agent.outboundPort, `http://127.0.0.1:${plain.port}/maintenance`);
    assert.equal(direct.status, 503);
    assert.equal(direct.headers['x-weft-rule'], 'outside-http/maintenance');
    assert.equal(direct.body.toString(), 'outside is down');
    const edited = await viaProxy(agent.outboundPort, `http://127.0.0.1:${plain.port}/edited`);
    assert.equal(edited.status, 200);
    assert.equal((JSON.parse(edited.body.toString()) as { headers: Record<string, string> }).headers['x-from-mesh'], '1');
  });

  test('a host declared after a refusal is reachable at once (the agent stays subscribed); apply --wait waits for it', async () => {
    const late = http.createServer((_req, res) => res.end('late'));
    await new Promise<void>((r) => late.listen(0, '127.0.0.2', r));
    const port = (late.address() as AddressInfo).port;
    try {
      const before = await viaProxy(agent.outboundPort, `http://127.0.0.2:${port}/late`);
      assert.equal(before.headers['x-weft-error'], 'unknown_service');
      const file = join(mesh.dir, 'late.yaml');
      writeFileSync(
        file,
        `apiVersion: weft.dev/v1\nkind: ExternalService\nmetadata:\n  service: late\nhost: 127.0.0.2\nport: ${port}\ntls: false\n`,
      );
      const r = await weft(['apply', '-f', file, '--wait', '--control-plane', cpAddr]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /agents: 1 ACKed, 0 NACKed, 0 pending/);
      const after = await viaProxy(agent.outboundPort, `http://127.0.0.2:${port}/late`);
      assert.equal(after.status, 200);
      assert.equal(after.body.toString(), 'late');
    } finally {
      late.closeAllConnections();
      await new Promise<void>((r) => late.close(() => r()));
    }
  });

  test('retries follow the mesh write rules: a reset GET is re-sent, a POST that reached the host is not', async () => {
    const faulty = await resetFirstServer('127.0.0.3');
    try {
      const file = join(mesh.dir, 'faulty.yaml');
      writeFileSync(
        file,
        `apiVersion: weft.dev/v1\nkind: ExternalService\nmetadata:\n  service: faulty\nhost: 127.0.0.3\nport: ${faulty.port}\ntls: false\n`,
      );
      const r = await weft(['apply', '-f', file, '--control-plane', cpAddr]);
      assert.equal(r.code, 0, r.stderr);
      const get = await viaProxy(agent.outboundPort, `http://127.0.0.3:${faulty.port}/get`);
      assert.equal(get.status, 200, get.body.toString());
      assert.equal(faulty.seen.get('GET /get'), 2);
      const post = await viaProxy(agent.outboundPort, `http://127.0.0.3:${faulty.port}/post`, { method: 'POST', body: 'once' });
      assert.equal(post.status, 502);
      assert.equal(post.headers['x-weft-error'], 'upstream_reset');
      assert.equal(faulty.seen.get('POST /post'), 1, 'the POST reached the host once and was not sent again');
      const m = await agentMetrics(agent);
      assert.ok(metricValue(m, 'weft_proxy_retries_total', { service: 'faulty' }) >= 1);
    } finally {
      await faulty.close();
    }
  });

  test('tls: true: the agent originates TLS, verifying the host against the CA store (NODE_EXTRA_CA_CERTS), SNI = host', async (t) => {
    if (!secure || !certs) return t.skip('openssl not installed');
    const r = await viaProxy(agent.outboundPort, `http://localhost:${secure.port}/secure`);
    assert.equal(r.status, 200, r.body.toString());
    const seen = JSON.parse(r.body.toString()) as { url: string; sni: string };
    assert.equal(seen.url, '/secure');
    assert.equal(seen.sni, 'localhost');
    // An agent without the test CA refuses the certificate: nothing is sent.
    const other = await mesh.agent('agent-no-ca', cp.grpcPort);
    await connected(other);
    const refused = await viaProxy(other.outboundPort, `http://localhost:${secure.port}/secure`);
    assert.equal(refused.status, 502);
    assert.equal(refused.headers['x-weft-error'], 'upstream_connect_failed');
    assert.match(refused.body.toString(), /external service outside-tls/);
  });

  test('CONNECT to a declared host is tunnelled (the app does its own TLS); an undeclared one is refused with the hint', async (t) => {
    if (!secure || !certs) return t.skip('openssl not installed');
    const dispatcher = new ProxyAgent({ uri: `http://127.0.0.1:${agent.outboundPort}`, requestTls: { ca: readFileSync(certs.ca) } });
    try {
      const res = await undiciFetch(`https://localhost:${secure.port}/tunnelled`, { dispatcher });
      assert.equal(res.status, 200);
      const seen = (await res.json()) as { url: string; sni: string };
      assert.equal(seen.url, '/tunnelled');
      assert.equal(seen.sni, 'localhost');
    } finally {
      await dispatcher.close();
    }
    const refused = await connectVia(agent.outboundPort, 'api.undeclared.example:443');
    assert.equal(refused.status, 404);
    assert.equal(refused.headers['x-weft-error'], 'unknown_service');
    assert.match(refused.body, /kind: ExternalService/);
    assert.match(refused.body, /NO_PROXY/);
    await waitFor(
      'the tunnel counted under outside-tls',
      async () =>
        metricValue(await agentMetrics(agent), 'response_total', {
          direction: 'outbound',
          service: 'outside-tls',
          code: '200',
        }) >= 1,
    );
  });
});

test('an agent restarted while the control plane is down still reaches the outside hosts it knew (persisted snapshot)', async () => {
  const mesh = new Mesh();
  after(() => mesh.close());
  const cp = await mesh.controlPlane();
  const outside = await mesh.service(echoHandler('outside'));
  const file = join(mesh.dir, 'external.yaml');
  writeFileSync(
    file,
    `apiVersion: weft.dev/v1\nkind: ExternalService\nmetadata:\n  service: outside\nhost: 127.0.0.1\nport: ${outside.port}\ntls: false\n`,
  );
  assert.equal((await weft(['apply', '-f', file, '--control-plane', `127.0.0.1:${cp.grpcPort}`])).code, 0);
  const a = await mesh.agent('agent-a', cp.grpcPort);
  await connected(a);
  assert.equal((await viaProxy(a.outboundPort, `http://127.0.0.1:${outside.port}/`)).status, 200);

  await a.stop('SIGTERM');
  await cp.stop('SIGKILL');
  const a2 = await mesh.agent('agent-a', cp.grpcPort);
  const r = await viaProxy(a2.outboundPort, `http://127.0.0.1:${outside.port}/again`);
  assert.equal(r.status, 200, `${r.headers['x-weft-error']} ${r.body}`);
  const config = await getJson<{ externals: { declared: Record<string, { service: string }> } }>(a2.adminPort, '/config');
  assert.equal(config.externals.declared['127.0.0.1']?.service, 'outside');
  const unknown = await viaProxy(a2.outboundPort, 'http://api.unknown.example/');
  assert.equal(unknown.headers['x-weft-error'], 'control_plane_unavailable');
});
