/**
 * Misbehaving upstreams and raw-socket clients for the resilience tests:
 * real servers on port 0 that close keep-alive connections at the wrong
 * moment, plus a raw HTTP client for inputs node's own client refuses to
 * send (smuggling attempts, slow heads) and a Prometheus text reader.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';

export interface FaultServer {
  port: number;
  /** Requests the "application" actually handled (answered). */
  handled: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:0 and returns the server as a FaultServer whose close() also drops open connections. */
async function serve(server: Server | ReturnType<typeof createServer>): Promise<FaultServer> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    handled: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A raw HTTP/1.1 server that answers the first request on each connection
 * (keep-alive, no Keep-Alive timeout hint) and resets the connection as soon
 * as the bytes of a second request arrive, without answering it: the
 * keep-alive race made deterministic. Understands requests framed by
 * Content-Length only.
 */
export async function resetOnReuseServer(): Promise<FaultServer> {
  const server = createServer((socket) => {
    let buffered = Buffer.alloc(0);
    let served = false;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (served) {
        socket.resetAndDestroy();
        return;
      }
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffered.subarray(0, end).toString('latin1');
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const bodyLength = cl ? Number(cl[1]) : 0;
      if (buffered.length < end + 4 + bodyLength) return;
      served = true;
      fault.handled++;
      const body = `handled ${fault.handled} (${bodyLength} bytes)`;
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
    });
  });
  const fault = await serve(server);
  return fault;
}

/**
 * A node:http server that closes every idle keep-alive connection after
 * `idleMs` without announcing it (no Keep-Alive header, like many non-node
 * servers), so a client that reuses a connection near that moment races it.
 */
export async function idleClosingServer(idleMs: number): Promise<FaultServer> {
  const timers = new Map<Socket, NodeJS.Timeout>();
  const arm = (socket: Socket) => {
    clearTimeout(timers.get(socket));
    timers.set(
      socket,
      setTimeout(() => socket.destroy(), idleMs),
    );
  };
  const server = createHttpServer({ keepAliveTimeout: 0 }, (req, res) => {
    clearTimeout(timers.get(req.socket));
    req.resume();
    req.on('end', () => {
      fault.handled++;
      res.end('ok');
    });
    res.on('finish', () => arm(req.socket));
  });
  server.keepAliveTimeout = 0;
  server.on('connection', (socket: Socket) => {
    arm(socket);
    socket.on('close', () => {
      clearTimeout(timers.get(socket));
      timers.delete(socket);
    });
  });
  const fault = await serve(server);
  return fault;
}

export interface RawAnswer {
  /** Everything the server sent before closing (or before `waitMs` passed). */
  text: string;
  status: number;
  headers: Record<string, string>;
  /** True when the server closed the connection. */
  closed: boolean;
}

/**
 * Writes `chunks` to 127.0.0.1:port (with `gapMs` between them) and collects
 * what comes back until the server closes or `waitMs` passes.
 */
export function rawExchange(
  port: number,
  chunks: (string | Buffer)[],
  opts: { gapMs?: number; waitMs?: number; tls?: ConnectionOptions } = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    // With `tls` (an mTLS inbound listener: key, cert, ca): the chunks go after the handshake.
    const socket =
      opts.tls === undefined
        ? connect(port, '127.0.0.1')
        : tlsConnect({ host: '127.0.0.1', port, checkServerIdentity: () => undefined, ...opts.tls });
    const received: Buffer[] = [];
    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(received).toString('latin1');
      const [head = ''] = text.split('\r\n\r\n');
      const lines = head.split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      resolve({ text, status, headers, closed });
    };
    socket.on('data', (c: Buffer) => received.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.on(opts.tls === undefined ? 'connect' : 'secureConnect', async () => {
      for (const [i, c] of chunks.entries()) {
        if (i > 0 && opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
        if (socket.destroyed) return;
        socket.write(c);
      }
      timer = setTimeout(finish, opts.waitMs ?? 2_000);
    });
  });
}

/**
 * The value of one sample in Prometheus text, e.g.
 * metricValue(text, 'weft_proxy_retries_total', { service: 'orders' }) sums
 * every sample of that name whose labels include the given ones (0 if none).
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
