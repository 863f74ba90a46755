/** Test helpers for HTTP/2 clients and servers (real node:http2 sessions on loopback, closed after each call). */
import { connect, createServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface H2Answer {
  headers: IncomingHttpHeaders;
  body: Buffer;
  trailers: IncomingHttpHeaders | undefined;
}

/** One request on a fresh h2c session to 127.0.0.1:`port` (closed when the answer ended). */
export function h2request(port: number, headers: Record<string, string>, body?: Buffer | string): Promise<H2Answer> {
  const session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': body !== undefined ? 'POST' : 'GET', ...headers }, { endStream: body === undefined });
    let head: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      head = h;
    });
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      session.close();
      resolve({ headers: head, body: Buffer.concat(chunks), trailers });
    });
    req.on('error', (err) => {
      session.destroy();
      reject(err);
    });
    if (body !== undefined) req.end(body);
  });
}

export interface H2App {
  port: number;
  /** Request heads the app received, in order. */
  seen: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** An h2c app on port 0 that answers every stream with `handle` after recording its head. */
export async function startH2App(handle: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void): Promise<H2App> {
  const server: Http2Server = createServer();
  const seen: IncomingHttpHeaders[] = [];
  const sessions = new Set<import('node:http2').ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    seen.push(headers);
    stream.on('error', () => {});
    handle(stream, headers);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}
