import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';
import { type AgentProc, type ControlPlaneProc, Mesh, postJson, registerWith, send, sha256, waitFor } from './harness.js';

const run = promisify(execFile);

/** A TCP echo server: echoes bytes; when the client half-closes, answers `<eof>` and closes its side. `heard`: every byte received. */
async function tcpEcho(): Promise<{ port: number; server: net.Server; heard: () => string }> {
  let heard = '';
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d) => {
      if (heard.length < 1024) heard += d.toString('latin1');
      s.write(d);
    });
    s.on('end', () => s.end('<eof>'));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server, heard: () => heard };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Opens `CONNECT target` on an agent's outbound listener; resolves with the socket after the answer head, or rejects with the answer. */
function connectVia(outboundPort: number, target: string, extraLines = ''): Promise<{ socket: net.Socket; status: number; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: outboundPort, allowHalfOpen: true });
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = buf.toString('latin1', 0, end);
      const rest = buf.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ socket, status: Number(head.split(' ')[1]), head: `${head}\r\n\r\n${rest.toString()}` });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n${extraLines}\r\n`);
  });
}

/** Writes `data`, half-closes, and collects everything until the other side closes. */
function exchange(socket: net.Socket, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
    socket.end(data);
  });
}

function connectLocal(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

function weft(...args: string[]) {
  return spawnSync(process.execPath, [WEFT_BIN, ...args], { encoding: 'utf8', timeout: 20_000 });
}

/** Why PostgreSQL tests cannot run here, or undefined when psql reaches 127.0.0.1:5432 (database `test`). */
function postgresMissing(): string | undefined {
  const which = spawnSync('psql', ['--version'], { encoding: 'utf8' });
  if (which.error !== undefined || which.status !== 0) return 'psql is not installed';
  const r = spawnSync('psql', ['-h', '127.0.0.1', '-p', '5432', '-d', 'test', '-tAc', 'select 1'], {
    encoding: 'utf8',
    timeout: 10_000,
    env: { ...process.env, PGCONNECT_TIMEOUT: '5' },
  });
  if (r.status !== 0 || r.stdout.trim() !== '1') return `PostgreSQL is not reachable at 127.0.0.1:5432 (database test): ${r.stderr.trim()}`;
  return undefined;
}

const PSQL_SKIP = postgresMissing();

describe('TCP services through two agents (app -> agent A -> agent B -> tcp server)', () => {
  const mesh = new Mesh();
  let a: AgentProc;
  let b: AgentProc;
  let echo: Awaited<ReturnType<typeof tcpEcho>>;
  let echoPort: number;
  let cp: ControlPlaneProc;

  before(async () => {
    cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort, ['--tunnel-idle-timeout', '1500ms']);
    b = await mesh.agent('agent-b', cp.grpcPort);
    echo = await tcpEcho();
    await registerWith(b, { name: 'echo', port: echo.port, id: 'echo-1', protocol: 'tcp', health: { tcp: true, interval: '1s' } });
    echoPort = await freePort();
    const added = await postJson(a.adminPort, '/v1/upstreams', { service: 'echo', localPort: echoPort });
    assert.equal(added.status, 201, JSON.stringify(added.json));
    await waitFor('echo to be reachable', async () => {
      const s = await connectLocal(echoPort);
      return (await exchange(s, Buffer.from('x'))).toString() === 'x<eof>';
    });
  });
  after(async () => {
    await new Promise<void>((r) => echo.server.close(() => r()));
    await mesh.close();
  });

  test('bytes pass unchanged both ways through a local upstream port, and a half-close is passed on', async () => {
    const s = await connectLocal(echoPort);
    const data = randomBytes(4 * 1024 * 1024);
    const back = await exchange(s, data);
    assert.equal(back.length, data.length + 5);
    assert.equal(sha256(back.subarray(0, data.length)), sha256(data));
    assert.equal(back.subarray(data.length).toString(), '<eof>', 'the server saw the FIN and answered after it');
  });

  test('CONNECT echo:7 on the outbound listener is answered 200 and tunnels to the service', async () => {
    const { socket, status } = await connectVia(a.outboundPort, 'echo:7');
    assert.equal(status, 200);
    const back = await exchange(socket, Buffer.from('through CONNECT'));
    assert.equal(back.toString(), 'through CONNECT<eof>');
  });

  test("access policy decides the TCP mesh hop on the caller's certificate: agent a denied, then allowed again", async () => {
    const file = join(mesh.dir, 'echo-access.yaml');
    writeFileSync(
      file,
      'apiVersion: weft.dev/v1\nkind: AccessPolicy\nmetadata: { service: echo }\nrules:\n  - name: not-a\n    action: deny\n    from: ["spiffe://weft.local/agent/agent-a"]\n',
    );
    const applied = weft('apply', '-f', file, '--wait', '--control-plane', `127.0.0.1:${cp.grpcPort}`);
    assert.equal(applied.status, 0, applied.stdout + applied.stderr);
    const { socket, status, head } = await connectVia(a.outboundPort, 'echo:7');
    socket.destroy();
    assert.equal(status, 403, head);
    // As an HTTP denial: the code, then the rule that decided (agent B's answer, passed on by agent A).
    assert.match(head, /\r\nx-weft-error: forbidden; policy=echo\/0\r\n/);
    assert.match(head, /spiffe:\/\/weft\.local\/agent\/agent-a may not call service echo: rule echo\/0 \(not-a\) denies it/);
    const removed = weft('delete', 'access', 'echo', '--control-plane', `127.0.0.1:${cp.grpcPort}`);
    assert.equal(removed.status, 0, removed.stdout + removed.stderr);
    await waitFor('echo allowed again (the mesh default)', async () => {
      const c = await connectVia(a.outboundPort, 'echo:7');
      c.socket.destroy();
      return c.status === 200;
    });
  });

  test('a TCP connection to an instance on the same host is access-checked as over the mesh hop: by credential, else as the agent', async () => {
    // Service till lives on agent A itself: A's own apps reach it without any inbound listener in between.
    const till = await tcpEcho();
    const tillPort = await freePort();
    try {
      await registerWith(a, { name: 'till', port: till.port, id: 'till-1', protocol: 'tcp', health: { tcp: true, interval: '1s' } });
      const web = await postJson(a.adminPort, '/v1/services', { name: 'web', port: till.port, id: 'web-1' });
      assert.equal(web.status, 201, JSON.stringify(web.json));
      const auth = `proxy-authorization: Basic ${Buffer.from(`web:${String(web.json.credential)}`).toString('base64')}\r\n`;
      const added = await postJson(a.adminPort, '/v1/upstreams', { service: 'till', localPort: tillPort });
      assert.equal(added.status, 201, JSON.stringify(added.json));
      await waitFor('till reachable through the local port', async () => {
        const s = await connectLocal(tillPort);
        return (await exchange(s, Buffer.from('x'))).toString() === 'x<eof>';
      });
      const file = join(mesh.dir, 'till-access.yaml');
      writeFileSync(
        file,
        'apiVersion: weft.dev/v1\nkind: AccessPolicy\nmetadata: { service: till }\nrules:\n' +
          '  - name: web-only\n    action: allow\n    from: [web]\n' +
          '  - name: nobody-else\n    action: deny\n    from: ["*"]\n',
      );
      const applied = weft('apply', '-f', file, '--wait', '--control-plane', `127.0.0.1:${cp.grpcPort}`);
      assert.equal(applied.status, 0, applied.stdout + applied.stderr);

      // No credential: the caller is agent A, which rule 1 denies; the instance is never connected to.
      const denied = await connectVia(a.outboundPort, 'till:9');
      denied.socket.destroy();
      assert.equal(denied.status, 403, denied.head);
      assert.match(denied.head, /\r\nx-weft-error: forbidden; policy=till\/1\r\n/);
      assert.match(denied.head, /spiffe:\/\/weft\.local\/agent\/agent-a may not call service till: rule till\/1 \(nobody-else\) denies it/);
      // The local port carries no credential either: closed without a byte (a reset when the client's bytes were
      // still unread, as TCP closes then), the instance not reached.
      const s = await connectLocal(tillPort);
      const answer = await exchange(s, Buffer.from('let me in')).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNRESET') return Buffer.alloc(0);
        throw err;
      });
      assert.equal(answer.length, 0);
      // (Its TCP health checks connect and send nothing: bytes, not connections, tell whether a caller reached it.)
      assert.doesNotMatch(till.heard(), /let me in/, 'no denied connection reached the instance');

      // With web's credential (as HTTP_PROXY=http://web:<secret>@... sends it) rule 0 allows it.
      const allowed = await connectVia(a.outboundPort, 'till:9', auth);
      assert.equal(allowed.status, 200, allowed.head);
      assert.equal((await exchange(allowed.socket, Buffer.from('as web'))).toString(), 'as web<eof>');
      assert.match(till.heard(), /as web/);

      const metrics = (await send({ port: a.adminPort, path: '/metrics' })).body.toString();
      assert.match(metrics, /weft_access_decisions_total\{service="till",decision="deny",rule="till\/1"\} 2/);
      assert.match(metrics, /weft_access_decisions_total\{service="till",decision="allow",rule="till\/0"\} 1/);
    } finally {
      weft('delete', 'access', 'till', '--control-plane', `127.0.0.1:${cp.grpcPort}`);
      for (const path of ['/v1/upstreams/till', '/v1/services/till-1', '/v1/services/web-1'])
        await send({ port: a.adminPort, path, method: 'DELETE' });
      await new Promise<void>((r) => till.server.close(() => r()));
    }
  });

  test('CONNECT to a name that is neither a mesh tcp service nor a declared outside host is refused with the hint', async () => {
    for (const target of ['nosuch:5432', 'example.com:443']) {
      const { socket, status, head } = await connectVia(a.outboundPort, target);
      socket.destroy();
      assert.equal(status, 404, head);
      assert.match(head, /x-weft-error: unknown_service/);
    }
  });

  test('a connect failure is retried on another endpoint; the dead one is ejected and counted', async () => {
    // An instance that crashes between two health checks: it passed its (hourly) TCP check, then stopped listening.
    const doomed = net.createServer();
    await new Promise<void>((r) => doomed.listen(0, '127.0.0.1', r));
    const dead = (doomed.address() as AddressInfo).port;
    await registerWith(b, { name: 'echo', port: dead, id: 'echo-dead', protocol: 'tcp', health: { tcp: true, interval: '1h' } });
    await waitFor('echo-dead passing at agent A', async () => {
      const cfg = JSON.parse((await send({ port: a.adminPort, path: '/config' })).body.toString()) as {
        services: Record<string, { endpoints: { instanceId: string; health: string }[] }>;
      };
      return cfg.services.echo?.endpoints.some((e) => e.instanceId === 'echo-dead' && e.health === 'passing');
    });
    await new Promise<void>((r) => doomed.close(() => r()));
    for (let i = 0; i < 8; i++) {
      const s = await connectLocal(echoPort);
      assert.equal((await exchange(s, Buffer.from(`try ${i}`))).toString(), `try ${i}<eof>`);
    }
    const metrics = (await send({ port: a.adminPort, path: '/metrics' })).body.toString();
    assert.match(metrics, /weft_proxy_tunnel_connect_failures_total\{direction="outbound",service="echo"\} [1-9]/);
    assert.match(metrics, /weft_proxy_tunnels_total\{direction="outbound",service="echo",kind="tcp"\} [1-9]/);
    assert.match(metrics, /weft_proxy_tunnel_bytes_total\{direction="outbound",service="echo",kind="tcp",way="in"\} [1-9]\d{6,}/);
    await send({ port: b.adminPort, path: '/v1/services/echo-dead', method: 'DELETE' });
  });

  test('a tunnel that carries nothing for the idle timeout is closed', async () => {
    const s = await connectLocal(echoPort);
    const openedAt = Date.now();
    // The agent closes its side: the client sees the end of the stream (it keeps its own side half-open).
    await new Promise<void>((resolve) => {
      s.once('end', resolve).once('close', resolve).resume();
    });
    s.destroy();
    const ms = Date.now() - openedAt;
    assert.ok(ms >= 1_400 && ms < 6_000, `closed after ${ms} ms (idle timeout 1.5 s)`);
  });

  test('weft upstream add/list/remove manage local ports, and they survive an agent restart', async () => {
    const port = await freePort();
    const add = weft('upstream', 'add', 'echo-two', '--local-port', String(port), '--agent', `127.0.0.1:${a.adminPort}`);
    assert.equal(add.status, 0, add.stderr);
    assert.match(add.stdout, new RegExp(`upstream echo-two on 127.0.0.1:${port}`));
    const list = weft('upstream', 'list', '--agent', `127.0.0.1:${a.adminPort}`);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /echo-two\s+127\.0\.0\.1:\d+/);
    assert.match(list.stdout, new RegExp(`echo\\s+127\\.0\\.0\\.1:${echoPort}`));
    const taken = weft('upstream', 'add', 'other', '--local-port', String(port), '--agent', `127.0.0.1:${a.adminPort}`);
    assert.equal(taken.status, 2, 'a port already used by another upstream is refused');
    assert.match(taken.stderr, /localPort/);
    const rm = weft('upstream', 'remove', 'echo-two', '--agent', `127.0.0.1:${a.adminPort}`);
    assert.equal(rm.status, 0, rm.stderr);
    const again = weft('upstream', 'remove', 'echo-two', '--agent', `127.0.0.1:${a.adminPort}`);
    assert.notEqual(again.status, 0, 'removing an unknown upstream fails');
    await assert.rejects(connectLocal(port), 'the removed port is closed');

    // The echo upstream is persisted in the data dir: a restarted agent opens its port again.
    await a.stop('SIGTERM', 5_000);
    a = await mesh.agent('agent-a', cp.grpcPort, ['--tunnel-idle-timeout', '1500ms']);
    const s = await waitFor('the restored upstream port', () => connectLocal(echoPort));
    assert.equal((await exchange(s, Buffer.from('after restart'))).toString(), 'after restart<eof>');
  });

  describe('PostgreSQL (127.0.0.1:5432, database test) as a tcp service behind agent B', () => {
    let pgPort = 0;

    before(async () => {
      if (PSQL_SKIP !== undefined) return;
      await registerWith(b, { name: 'postgres', port: 5432, id: 'postgres-1', protocol: 'tcp', health: { tcp: true, interval: '1s' } });
      pgPort = await freePort();
      const added = await postJson(a.adminPort, '/v1/upstreams', { service: 'postgres', localPort: pgPort });
      assert.equal(added.status, 201, JSON.stringify(added.json));
    });

    test('psql runs a query through agent A local upstream port', async (t) => {
      if (PSQL_SKIP !== undefined) return t.skip(`SKIPPED, not run: ${PSQL_SKIP}`);
      const out = await waitFor('psql through the upstream port', async () => {
        const r = await run('psql', ['-h', '127.0.0.1', '-p', String(pgPort), '-d', 'test', '-tAc', 'select 1'], { timeout: 10_000 });
        return r.stdout.trim();
      });
      assert.equal(out, '1');
    });

    test('psql runs a query through CONNECT postgres:5432 (a small node client in front of psql)', async (t) => {
      if (PSQL_SKIP !== undefined) return t.skip(`SKIPPED, not run: ${PSQL_SKIP}`);
      // Each connection psql makes to this port is sent through `CONNECT postgres:5432` on agent A.
      const front = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
        void connectVia(a.outboundPort, 'postgres:5432').then(
          ({ socket, status }) => {
            if (status !== 200) {
              client.destroy();
              socket.destroy();
              return;
            }
            client.pipe(socket);
            socket.pipe(client);
            client.on('error', () => socket.destroy());
            socket.on('error', () => client.destroy());
            client.resume();
          },
          () => client.destroy(),
        );
      });
      await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
      try {
        const port = (front.address() as AddressInfo).port;
        const r = await run('psql', ['-h', '127.0.0.1', '-p', String(port), '-d', 'test', '-tAc', "select 'via connect', 6 * 7"], {
          timeout: 10_000,
        });
        assert.equal(r.stdout.trim(), 'via connect|42');
      } finally {
        await new Promise<void>((r) => front.close(() => r()));
      }
    });
  });
});
