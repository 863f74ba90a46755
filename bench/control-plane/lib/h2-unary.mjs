/**
 * A lean gRPC unary client for the registration burst: one node:http2
 * session per replica, each call one HTTP/2 stream (HEADERS, one DATA frame
 * with the 5-byte gRPC prefix, the reply's message and its trailers).
 *
 * Why not grpc-js: the load generator shares the machine's two cores with the
 * replicas and PostgreSQL. Measured through 3 replicas (2026-12-02,
 * bench/results/control-plane-replicas.md), the load generator spent 36-48 %
 * of a core during the burst with grpc-js (its call objects, interceptors,
 * metadata, deadline timers) and 25-32 % with this client. The burst measures
 * what the control plane can acknowledge, so the harness should leave it the
 * CPU; `--burst-client grpc-js` keeps the old client to compare. Every call is still a real gRPC call over a real
 * HTTP/2 connection, its reply decoded and its `grpc-status` checked: a
 * registration counts only when the control plane acknowledged it.
 *
 * Messages are (de)serialized by the same proto-loader definitions the
 * grpc-js clients use, so both clients send the same bytes.
 */
import http2 from 'node:http2';
import net from 'node:net';
import { CODEC_SETTINGS } from '../../../agent/dist/http2/h2-settings.js';
import { H2Connection } from '../../../shared/dist/http2-codec/connection.js';
import { H2Error } from '../../../shared/dist/http2-codec/frames.js';

export class H2UnaryClient {
  /**
   * @param target host:port of a plaintext control plane
   * @param methods proto-loader's service definition ({ Register: { requestSerialize, responseDeserialize, path } })
   * @param transport 'codec' (the project's HTTP/2 codec, shared/src/http2-codec, with the settings of the
   *   agents' upstream pool) or 'node' (node:http2, whose per-stream cost in its C++ and JS layers is the larger)
   */
  constructor(target, methods, transport = 'codec') {
    this.methods = methods;
    this.target = target;
    this.transport = transport;
    this.session = this.connect();
  }

  /** A new session; a lost one fails its calls (their streams error) and the next call opens another. */
  connect() {
    if (this.transport === 'node') {
      const session = http2.connect(`http://${this.target}`);
      session.on('error', () => {});
      return session;
    }
    const at = this.target.lastIndexOf(':');
    const socket = net.connect(Number(this.target.slice(at + 1)), this.target.slice(0, at));
    socket.setNoDelay(true);
    const session = new H2Connection({ role: 'client', socket, authority: this.target, settings: CODEC_SETTINGS });
    session.on('error', () => {});
    return session;
  }

  /** Resolves with the decoded reply; rejects with an Error carrying `code` and `details` for a non-OK status. */
  call(method, request, timeoutMs = 15_000) {
    const def = this.methods[method];
    if (!def) return Promise.reject(new Error(`no method ${method}`));
    if (this.session.closed || this.session.destroyed) this.session = this.connect();
    const message = def.requestSerialize(request);
    const frame = Buffer.allocUnsafe(5 + message.length);
    frame[0] = 0;
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        ':method': 'POST',
        ':path': def.path,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': `${Math.max(1, Math.round(timeoutMs))}m`,
      });
      const chunks = [];
      let headers = {};
      let settled = false;
      const finish = (err, value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value);
      };
      const timer = setTimeout(() => {
        stream.close(H2Error.CANCEL);
        finish(Object.assign(new Error('deadline exceeded'), { code: 4, details: 'deadline exceeded (client)' }));
      }, timeoutMs);
      stream.on('response', (h) => {
        headers = h;
      });
      stream.on('data', (chunk) => chunks.push(chunk));
      stream.on('trailers', (t) => {
        headers = { ...headers, ...t };
      });
      stream.on('error', (err) => finish(Object.assign(err, { code: 14, details: err.message })));
      stream.on('close', () => {
        const status = Number(headers['grpc-status'] ?? (stream.rstCode ? 14 : 2));
        if (status !== 0) {
          const details = percentDecoded(String(headers['grpc-message'] ?? `grpc-status ${status}`));
          finish(Object.assign(new Error(details), { code: status, details }));
          return;
        }
        const body = Buffer.concat(chunks);
        if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) {
          finish(Object.assign(new Error('reply is not one gRPC message'), { code: 13, details: 'reply is not one gRPC message' }));
          return;
        }
        try {
          finish(null, def.responseDeserialize(body.subarray(5)));
        } catch (err) {
          finish(Object.assign(err, { code: 13, details: `cannot decode the reply: ${err.message}` }));
        }
      });
      stream.end(frame);
    });
  }

  close() {
    this.session.close();
  }
}

/** grpc-message is percent-encoded; a malformed one is shown as it came rather than failing the call's report. */
function percentDecoded(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
