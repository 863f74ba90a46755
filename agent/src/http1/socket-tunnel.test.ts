/**
 * The codec's side of tunnels: a server connection that switches protocols
 * or accepts a CONNECT, and a client connection that receives an asked-for
 * 101, hand their bytes to a SocketTunnel (bytes read with the head first,
 * both ways unchanged, FIN passed as an end), and leave HTTP behind.
 */
import assert from 'node:assert/strict';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { ClientHandler } from './client-connection.js';
import { Http1Pool } from './client-pool.js';
import { UnexpectedUpgradeError } from './errors.js';
import { Http1Server } from './server.js';
import type { Http1Request, Http1Response } from './server-message.js';
import type { SocketTunnel } from './socket-tunnel.js';

const LIMITS = {
  maxHeaderBytes: 16 * 1024,
  maxHeaderCount: 100,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 10_000,
  checkIntervalMs: 50,
};

async function serve(
  t: TestContext,
  onRequest: (req: Http1Request, res: Http1Response) => void,
  onConnect: (socket: Socket, target: string, accept: (head: string) => SocketTunnel) => void = (s) => s.destroy(),
): Promise<number> {
  const server = new Http1Server({
    ...LIMITS,
    onRequest,
    refuse: (socket) => socket.destroy(),
    onConnect: (socket, target, c) => onConnect(socket, target, (head) => c.accept(head)),
  });
  const { port } = await server.listen(0, '127.0.0.1');
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  );
  return port;
}

/** Echoes a tunnel's bytes back into it; answers its end with `<eof>` and an end. */
function echo(tunnel: SocketTunnel): void {
  tunnel.start({
    onData(chunk) {
      return tunnel.write(chunk);
    },
    onEnd() {
      tunnel.write(Buffer.from('<eof>'));
      tunnel.end();
    },
    onClose() {},
  });
}

/** Writes `text` on a new connection, half-closes after `then`, and resolves with everything received until the server's end. */
function exchange(port: number, text: string, then = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let got = '';
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (then !== '' && got.includes('\r\n\r\n') && !s.writableEnded) s.end(then);
    });
    s.once('end', () => {
      s.destroy();
      resolve(got);
    });
    s.once('error', reject);
    s.write(text);
    if (then === '') s.end();
  });
}

describe('SocketTunnel in the server', () => {
  it('switchProtocols writes the 101 and hands over the connection, bytes sent with the request first', async (t) => {
    const port = await serve(t, (_req, res) => {
      echo(res.switchProtocols({ lines: 'connection: upgrade\r\nupgrade: echo\r\n' }));
    });
    const got = await exchange(port, 'GET / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\nearly|', 'late');
    assert.equal(got, 'HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\nearly|late<eof>');
  });

  it('refuses to switch protocols after a request with a body', async (t) => {
    let refused: unknown;
    const port = await serve(t, (_req, res) => {
      try {
        res.switchProtocols({ lines: '' });
      } catch (err) {
        refused = err;
      }
      res.end('no');
    });
    await exchange(port, 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\nconnection: close\r\n\r\nx');
    assert.match(String(refused), /body/);
  });

  it('a CONNECT accepted by the owner becomes a tunnel; its fields are readable', async (t) => {
    let instance: string | undefined;
    const server = new Http1Server({
      ...LIMITS,
      onRequest: () => {},
      refuse: (socket) => socket.destroy(),
      onConnect: (_socket, _target, c) => {
        instance = c.header('x-weft-instance');
        echo(c.accept('HTTP/1.1 200 Connection Established\r\n\r\n'));
      },
    });
    const { port } = await server.listen(0, '127.0.0.1');
    t.after(() => new Promise<void>((r) => server.close(r)));
    const got = await exchange(port, 'CONNECT db:5432 HTTP/1.1\r\nhost: db:5432\r\nX-Weft-Instance: db-1\r\n\r\nfirst|', 'second');
    assert.equal(got, 'HTTP/1.1 200 Connection Established\r\n\r\nfirst|second<eof>');
    assert.equal(instance, 'db-1');
    server.closeAllConnections();
  });
});

describe('SocketTunnel in the client', () => {
  async function upgradingServer(t: TestContext): Promise<number> {
    const sockets: Socket[] = [];
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      sockets.push(socket);
      let buf = '';
      let switched = false;
      socket.on('data', (d: Buffer) => {
        if (switched) return void socket.write(d);
        buf += d.toString('latin1');
        if (!buf.includes('\r\n\r\n')) return;
        switched = true;
        // The 101 and the new protocol's first bytes in one write.
        socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\nhello|');
      });
      socket.on('end', () => socket.end('<eof>'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
    );
    return (server.address() as AddressInfo).port;
  }

  function dispatch(pool: Http1Pool, withUpgrade: boolean): Promise<{ status: number; tunnel: SocketTunnel } | Error> {
    return new Promise((resolve) => {
      const handler: ClientHandler = {
        onConnect() {},
        onHeaders: () => true,
        onData: () => true,
        onComplete() {},
        onError: (err) => resolve(err),
      };
      if (withUpgrade) handler.onUpgrade = (head, tunnel) => resolve({ status: head.statusCode, tunnel });
      pool.dispatch({ method: 'GET', path: '/', headers: { host: 'x', connection: 'upgrade', upgrade: 'echo' }, body: null }, handler);
    });
  }

  it('hands an asked 101 to onUpgrade with the bytes read after it, and the connection leaves the pool', async (t) => {
    const pool = new Http1Pool('127.0.0.1', await upgradingServer(t), { keepAliveTimeoutMs: 4_000, connectTimeoutMs: 2_000 });
    t.after(() => pool.close(false));
    const r = await dispatch(pool, true);
    assert.ok(!(r instanceof Error), String(r));
    assert.equal(r.status, 101);
    assert.deepEqual(pool.stats, { running: 0, pending: 0, connections: 0 });
    const got = await new Promise<string>((resolve) => {
      let all = '';
      r.tunnel.start({
        onData(chunk) {
          all += chunk.toString();
          return true;
        },
        onEnd() {},
        onClose: () => resolve(all),
      });
      r.tunnel.write(Buffer.from('world'));
      r.tunnel.end();
    });
    assert.equal(got, 'hello|world<eof>');
  });

  it('still fails an asked 101 with UnexpectedUpgradeError when the exchange takes no upgrade', async (t) => {
    const pool = new Http1Pool('127.0.0.1', await upgradingServer(t), { keepAliveTimeoutMs: 4_000, connectTimeoutMs: 2_000 });
    t.after(() => pool.close(false));
    const r = await dispatch(pool, false);
    assert.ok(r instanceof UnexpectedUpgradeError);
    assert.equal(r.requestAskedUpgrade, true);
  });
});
