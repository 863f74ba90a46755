/**
 * The TLS accept path of Http1Server: a plain net.Server's sockets wrapped
 * in server-side TLSSockets by us rather than by tls.Server, so that each
 * decrypted read lands in one shared buffer (net's `onread`), as plaintext
 * accepted sockets do (shared-read-accept.ts) and TLS client sockets do.
 *
 * Why: node gives `onread` only to a TLSSocket it connects itself
 * (`onread: !socket ? tlsOptions.onread : null` in _tls_wrap), so the
 * sockets a tls.Server accepts read through a Readable stream: a new buffer,
 * a push and a 'data' event per read, on the mesh hop's hot path.
 *
 * How: the TLSSocket is given net's own onread fields (the `kBuffer` /
 * `kBufferCb` symbols, found on a probe socket built with `onread`) and its
 * TLS handle is told to read into the buffer (`useUserBuffer`). These are
 * node internals (Node 20-22, our `engines` range); when they are missing,
 * the socket reads through 'data' events instead (still correct).
 *
 * What tls.Server would do and this file does instead: a client certificate
 * that does not verify is refused after the handshake (`verifyError()`;
 * a missing one fails the handshake in OpenSSL), a handshake has
 * `handshakeTimeoutMs`, and failures are reported with node's codes.
 * Session tickets are OpenSSL's, with the keys of the secure context (and
 * a session id context, without which OpenSSL resumes nothing).
 */
import type { X509Certificate } from 'node:crypto';
import { Socket } from 'node:net';
import { createSecureContext, type SecureContext, type SecureContextOptions, TLSSocket, type TlsOptions } from 'node:tls';
import type { SharedReadCallback } from './shared-read-accept.js';

/** One buffer for the decrypted reads of every accepted TLS socket of the process (reads are handled one at a time). */
const TLS_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

interface OnreadFields {
  kBuffer: symbol;
  kBufferCb: symbol;
}

/** net's onread fields, read off a socket built with `onread`; undefined when node keeps them otherwise. */
const ONREAD: OnreadFields | undefined = (() => {
  const probe = new Socket({ onread: { buffer: Buffer.alloc(1), callback: () => true } } as ConstructorParameters<typeof Socket>[0]);
  const syms = Object.getOwnPropertySymbols(probe);
  probe.destroy();
  const kBuffer = syms.find((s) => s.description === 'kBuffer');
  const kBufferCb = syms.find((s) => s.description === 'kBufferCb');
  return kBuffer && kBufferCb ? { kBuffer, kBufferCb } : undefined;
})();

type Internals = Record<symbol, unknown> & { _handle?: { useUserBuffer?: (b: Buffer) => void; verifyError?: () => Error | null } };

/** Makes `socket` deliver its decrypted reads to `callback` (in TLS_READ_BUFFER); false when node's internals are not there. */
function useSharedReads(socket: TLSSocket, callback: SharedReadCallback): boolean {
  const s = socket as unknown as Internals;
  const handle = s._handle;
  if (ONREAD === undefined || typeof handle?.useUserBuffer !== 'function') return false;
  s[ONREAD.kBuffer] = TLS_READ_BUFFER;
  s[ONREAD.kBufferCb] = callback;
  handle.useUserBuffer(TLS_READ_BUFFER);
  return true;
}

export interface TlsAcceptOptions {
  /** key, cert, ca, requestCert, rejectUnauthorized, minVersion, ticketKeys, SNICallback. */
  tls: TlsOptions;
  handshakeTimeoutMs: number;
  /**
   * A socket completed its handshake (its certificate verified when required).
   * `sharedReads`: its reads go to the returned callback; else it emits 'data'.
   */
  onSecure(socket: TLSSocket, sharedReads: boolean): SharedReadCallback | undefined;
  onError(err: Error, remoteAddress: string | undefined): void;
  /**
   * A further check of the client's certificate (chain already verified),
   * run on every handshake, resumed ones included (the certificate comes
   * from the session then): an error refuses the connection as a failed
   * handshake (onError, socket destroyed) before any byte of it is read.
   */
  verifyPeer?(cert: X509Certificate | undefined): Error | undefined;
}

/**
 * OpenSSL refuses to resume a session of a server that verifies client
 * certificates without a session id context ("internal error"); tls.Server
 * sets one of its own, so do we.
 */
const SESSION_ID_CONTEXT = 'weft-http1-tls';

export class TlsAccept {
  private context: SecureContext;

  constructor(private readonly opts: TlsAcceptOptions) {
    this.context = createSecureContext({ sessionIdContext: SESSION_ID_CONTEXT, ...opts.tls });
  }

  /** New handshakes use these key, certificate and CA; open connections keep theirs. */
  setSecureContext(options: SecureContextOptions): void {
    this.context = createSecureContext({ sessionIdContext: SESSION_ID_CONTEXT, ...this.opts.tls, ...options });
  }

  /** Starts the handshake on an accepted plain socket. */
  readonly accept = (raw: Socket): void => {
    const { tls } = this.opts;
    const remoteAddress = raw.remoteAddress;
    const socket = new TLSSocket(raw, {
      isServer: true,
      secureContext: this.context,
      requestCert: tls.requestCert,
      rejectUnauthorized: tls.rejectUnauthorized,
      SNICallback: tls.SNICallback,
      ALPNProtocols: tls.ALPNProtocols,
    });
    let onRead: SharedReadCallback | undefined;
    // Reads that arrive before the connection exists (none expected: 'secure' comes first), kept in order.
    const early: Buffer[] = [];
    const shared = useSharedReads(socket, (nread, buf) => {
      if (onRead !== undefined) onRead(nread, buf);
      else early.push(Buffer.from(buf.subarray(0, nread)));
    });
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.opts.onError(err, remoteAddress);
      socket.destroy();
    };
    const timer = setTimeout(
      () =>
        fail(
          Object.assign(new Error(`TLS handshake not complete within ${this.opts.handshakeTimeoutMs} ms`), {
            code: 'ERR_TLS_HANDSHAKE_TIMEOUT',
          }),
        ),
      this.opts.handshakeTimeoutMs,
    );
    socket.on('error', fail);
    // The server is half-open (a TCP tunnel forwards a half-close); a client that ends its side mid-handshake gave up.
    const gaveUp = (): void => {
      if (!settled) fail(Object.assign(new Error('connection closed during the TLS handshake'), { code: 'ECONNRESET' }));
    };
    socket.once('end', gaveUp);
    socket.once('close', gaveUp);
    socket.once('secure', () => {
      if (settled) return;
      const refused = tls.rejectUnauthorized ? (socket as unknown as Internals)._handle?.verifyError?.() : null;
      if (refused) {
        fail(refused);
        return;
      }
      const denied = this.opts.verifyPeer?.(socket.getPeerX509Certificate());
      if (denied !== undefined) {
        fail(denied);
        return;
      }
      settled = true;
      clearTimeout(timer);
      socket.off('error', fail);
      socket.off('end', gaveUp);
      // As tls.Server marks its sockets once secure: node:http2 waits for 'secureConnect' (a client's event) while
      // it is set, and an HTTP/2 session handed this socket (h2-preface.ts) would never start.
      (socket as unknown as { secureConnecting: boolean }).secureConnecting = false;
      onRead = this.opts.onSecure(socket, shared);
      if (onRead !== undefined) for (const b of early.splice(0)) onRead(b.length, b);
    });
  };
}
