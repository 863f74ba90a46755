/**
 * The inbound listener's side of the mesh hop's mutual TLS (mesh-tls.ts):
 * the listener's TLS options and certificate watch, its TLS metrics, and the
 * guards that refuse a caller on the deny list on every path of the hop —
 * an HTTP/1.1 request (403 forbidden, connection closed), a CONNECT of the
 * TCP mesh hop (403 forbidden), an HTTP/2 stream (403 forbidden, session
 * closed). A revoked caller's connection may predate its revocation, or
 * resume a session made before it, so the check is made per request, not
 * only at the handshake.
 *
 * The caller is always read from the connection's verified certificate
 * (peer-source.ts), never from a header; `identify` hands it to access
 * policy as the request's source.
 */

import type { TLSSocket } from 'node:tls';
import { ERROR_HEADER, MeshErrorCode } from '@weft/shared';
import type { H2Connection } from '@weft/shared/http2-codec/connection';
import type { H2ServerStream } from '@weft/shared/http2-codec/stream';
import type { ConnectRequest } from '../http1/server-connection.js';
import type { Http1Request } from '../http1/server-message.js';
import type { StreamHandler } from '../http2/h2c-server.js';
import type { SourceIdentity } from './access-policy.js';
import type { ListenerServerOptions, ListenerTls, RequestHandler } from './listener-server.js';
import { releaseRequestBody, sendMeshError, writeRawMeshError } from './mesh-response.js';
import type { MeshTls } from './mesh-tls.js';
import { type PeerSource, sourceFromPeerCertificate } from './peer-source.js';
import type { ProxyMetrics } from './proxy-metrics.js';
import type { RequestLog } from './request-log.js';

type ConnectHandler = NonNullable<ListenerServerOptions['onConnect']>;

export interface InboundMeshTls {
  /** The listener's TLS (options, renewal watch, metrics). */
  readonly tls: ListenerTls;
  /** The source of a request: the identity its connection's certificate names (an agent, or a service of the calling agent). */
  identify(req: Http1Request): SourceIdentity | undefined;
  /** The same for an HTTP/2 stream (its session's certificate). */
  identifyStream(stream: H2ServerStream): SourceIdentity | undefined;
  /** The same for a CONNECT of the TCP mesh hop. */
  identifyConnect(connect: ConnectRequest): SourceIdentity | undefined;
  guardRequests(handler: RequestHandler): RequestHandler;
  guardConnect(onConnect: ConnectHandler): ConnectHandler;
  guardStreams(onStream: StreamHandler): StreamHandler;
}

export function inboundMeshTls(meshTls: MeshTls, agentId: string, metrics: ProxyMetrics, requestLog: RequestLog): InboundMeshTls {
  const tlsConnections = new Map<string, ReturnType<typeof metrics.tlsConnections.labels>>();
  const tls: ListenerTls = {
    options: meshTls.serverOptions(),
    watch: (apply) => meshTls.watchServerContext(apply),
    onConnection: (session) => {
      const key = `${session.protocol}/${session.resumed}`;
      let child = tlsConnections.get(key);
      if (child === undefined) {
        child = metrics.tlsConnections.labels(session.protocol, String(session.resumed));
        tlsConnections.set(key, child);
      }
      child.inc();
    },
    // The deny list at the handshake: a revoked agent's certificate (or a service certificate it holds) gets no session,
    // resumed sessions included (the server reads the certificate from the session).
    verifyPeer: (cert) => {
      const source = sourceFromPeerCertificate({ protocol: '', resumed: false, peerCertificate: cert });
      if (source?.holder !== undefined && !meshTls.isRevoked(source.holder, source.serial)) return undefined;
      const why =
        source === undefined
          ? 'no client certificate'
          : source.holder === undefined
            ? `the client certificate names no agent (${source.spiffeId || 'no SPIFFE ID'})`
            : `${source.spiffeId} (serial ${source.serial}, held by agent ${source.holder}) is revoked (deny list)`;
      return Object.assign(new Error(`mesh caller refused at the TLS handshake: ${why}`), {
        code: source?.holder === undefined ? 'ERR_PEER_NOT_AN_AGENT' : 'ERR_PEER_REVOKED',
      });
    },
    onHandshakeError: (err, remoteAddress) => {
      const reason = (err as { code?: string }).code ?? 'unknown';
      metrics.tlsHandshakeFailures.labels(reason).inc();
      requestLog.log('mTLS handshake refused', reason, { remoteAddress, detail: err.message.split('\n')[0] });
    },
  };

  /** Why the caller is refused (the deny list, or held by no agent); undefined: it may call. */
  const refusal = (source: PeerSource | undefined): string | undefined => {
    if (source?.holder !== undefined && !meshTls.isRevoked(source.holder, source.serial)) return undefined;
    const why =
      source === undefined
        ? 'no client certificate'
        : source.holder === undefined
          ? `the client certificate names no agent (${source.spiffeId || 'no SPIFFE ID'})`
          : `${source.spiffeId} (serial ${source.serial}, held by agent ${source.holder}) is revoked`;
    metrics.tlsRefused.labels(source?.holder === undefined ? 'not_an_agent' : 'revoked').inc();
    requestLog.log('request refused', MeshErrorCode.forbidden, { detail: why });
    return why;
  };
  const refusedMessage = (why: string): string => `agent ${agentId}: mesh caller refused: ${why}`;

  /** The caller of an HTTP/2 session, read once per session (its socket is the TLS connection). */
  const sessionSources = new WeakMap<H2Connection, PeerSource | undefined>();
  const sessionSource = (session: H2Connection): PeerSource | undefined => {
    if (sessionSources.has(session)) return sessionSources.get(session);
    const socket = session.socket as TLSSocket;
    const source =
      socket.encrypted === true
        ? sourceFromPeerCertificate({
            protocol: socket.getProtocol() ?? '',
            resumed: socket.isSessionReused(),
            peerCertificate: socket.getPeerX509Certificate(),
          })
        : undefined;
    sessionSources.set(session, source);
    return source;
  };

  return {
    tls,
    identify: (req) => sourceFromPeerCertificate(req.tls),
    identifyConnect: (connect) => sourceFromPeerCertificate(connect.tls),
    identifyStream: (stream) => (stream.session === undefined ? undefined : sessionSource(stream.session)),
    guardRequests: (handler) => (req, res, ctx) => {
      const why = refusal(sourceFromPeerCertificate(req.tls));
      if (why === undefined) return handler(req, res, ctx);
      res.setHeader('connection', 'close');
      releaseRequestBody(req, res);
      sendMeshError(res, MeshErrorCode.forbidden, refusedMessage(why));
      return Promise.resolve();
    },
    guardConnect: (onConnect) => (socket, target, connect) => {
      const why = refusal(sourceFromPeerCertificate(connect.tls));
      if (why === undefined) onConnect(socket, target, connect);
      else writeRawMeshError(socket, 403, MeshErrorCode.forbidden, refusedMessage(why));
    },
    guardStreams: (onStream) => (stream, headers) => {
      const session = stream.session;
      const why = session === undefined ? 'no session' : refusal(sessionSource(session));
      if (why === undefined) {
        onStream(stream, headers);
        return;
      }
      try {
        stream.respond({ ':status': 403, [ERROR_HEADER]: MeshErrorCode.forbidden, 'content-type': 'text/plain; charset=utf-8' });
        stream.end(`${refusedMessage(why)}\n`);
      } catch {
        // The stream is already gone.
      }
      session?.close();
    },
  };
}
