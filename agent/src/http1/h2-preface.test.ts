import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { H2_PREFACE, matchPreface, PrefaceMatch } from './h2-preface.js';
import { Http1Server } from './server.js';

function server(onHttp2?: (socket: Socket, received: Buffer, sharedReads: boolean) => ((chunk: Buffer) => void) | undefined): Http1Server {
  return new Http1Server({
    maxHeaderBytes: 16 * 1024,
    maxHeaderCount: 100,
    headersTimeoutMs: 2000,
    requestTimeoutMs: 5000,
    keepAliveTimeoutMs: 1000,
    checkIntervalMs: 100,
    onRequest(_req, res) {
      res.writeHead(200, { 'content-length': 2 });
      res.end(Buffer.from('ok'));
    },
    refuse(socket, err) {
      socket.end(`HTTP/1.1 ${err.status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    },
    onConnect(socket) {
      socket.destroy();
    },
    onHttp2,
  });
}

/** Writes `parts` one by one (a turn apart) and collects what the server sends back until it closes or `ms` pass. */
async function exchange(port: number, parts: Buffer[], ms = 300): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  let got = '';
  socket.on('data', (d) => {
    got += d.toString('latin1');
  });
  for (const p of parts) {
    socket.write(p);
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    socket.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
  socket.destroy();
  return got;
}

describe('HTTP/2 preface detection on the HTTP/1.1 port', () => {
  it('tells the preface, a part of it, and anything else apart', () => {
    assert.equal(matchPreface(H2_PREFACE), PrefaceMatch.Match);
    assert.equal(matchPreface(Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 4])])), PrefaceMatch.Match);
    assert.equal(matchPreface(H2_PREFACE.subarray(0, 10)), PrefaceMatch.Partial);
    assert.equal(matchPreface(Buffer.from('GET / HTTP/1.1\r\n')), PrefaceMatch.No);
    assert.equal(matchPreface(Buffer.from('PRI * HTTP/1.1\r\n\r\n')), PrefaceMatch.No);
  });

  it('hands a connection that opens with the preface over with every byte read, however the preface is split', async () => {
    const handed: Buffer[] = [];
    const s = server((socket, received) => {
      handed.push(received);
      socket.end('handed over');
      return undefined;
    });
    const { port } = await s.listen(0, '127.0.0.1');
    try {
      const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
      const whole = Buffer.concat([H2_PREFACE, settings]);
      for (const at of [1, 3, 14, 23, 24]) {
        const got = await exchange(port, [whole.subarray(0, at), whole.subarray(at)]);
        assert.equal(got, 'handed over', `split at ${at}`);
        const all = Buffer.concat(handed.splice(0));
        // The bytes handed over start with the whole preface (the rest may come in later reads of the new owner).
        assert.ok(all.subarray(0, H2_PREFACE.length).equals(H2_PREFACE), `split at ${at}`);
      }
    } finally {
      await new Promise<void>((r) => s.close(r));
    }
  });

  it('passes the later reads of a handed-over connection to its new owner, whether or not the socket reads into the shared buffer', async () => {
    const later: Buffer[] = [];
    let first: Buffer | undefined;
    let done: () => void = () => {};
    const all = new Promise<void>((r) => {
      done = r;
    });
    const expected = Buffer.concat([H2_PREFACE, Buffer.alloc(70_000, 7), Buffer.from('end')]);
    const s = server((socket, received, sharedReads) => {
      first = received;
      const take = (chunk: Buffer): void => {
        // A copy: with shared reads the chunk is a view of a buffer reused after this returns.
        later.push(Buffer.from(chunk));
        if (Buffer.concat([first ?? Buffer.alloc(0), ...later]).length >= expected.length) {
          socket.end();
          done();
        }
      };
      if (sharedReads) return take;
      socket.on('data', take);
      return undefined;
    });
    const { port } = await s.listen(0, '127.0.0.1');
    try {
      await exchange(port, [expected.subarray(0, 30), expected.subarray(30, 40_000), expected.subarray(40_000)], 50);
      await all;
      assert.ok(Buffer.concat([first ?? Buffer.alloc(0), ...later]).equals(expected));
    } finally {
      await new Promise<void>((r) => s.close(r));
    }
  });

  it('keeps serving HTTP/1.1 (including a request starting like the preface) when it takes HTTP/2', async () => {
    const s = server(() => assert.fail('not HTTP/2') as undefined);
    const { port } = await s.listen(0, '127.0.0.1');
    try {
      const ok = await exchange(port, [Buffer.from('GET / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n')]);
      assert.match(ok, /^HTTP\/1\.1 200/);
      const split = await exchange(port, [Buffer.from('P'), Buffer.from('RI / HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n')]);
      assert.match(split, /^HTTP\/1\.1 200/, 'PRI is a method like any other');
    } finally {
      await new Promise<void>((r) => s.close(r));
    }
  });

  it('refuses the preface as a malformed HTTP/1.1 request when it does not take HTTP/2', async () => {
    const s = server();
    const { port } = await s.listen(0, '127.0.0.1');
    try {
      const got = await exchange(port, [H2_PREFACE]);
      assert.match(got, /^HTTP\/1\.1 400/);
    } finally {
      await new Promise<void>((r) => s.close(r));
    }
  });
});
