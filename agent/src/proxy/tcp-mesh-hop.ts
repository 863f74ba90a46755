/**
 * The mesh hop of a TCP connection, agent A -> agent B's inbound listener:
 *
 *   A: CONNECT <service>:<port> HTTP/1.1          B: HTTP/1.1 200 Connection Established
 *      host: <service>:<port>                        (then the instance's bytes)
 *      x-weft-instance: <instance id>
 *      x-weft-timeout-ms: <connect budget>        or its own refusal, marked as the agent's:
 *                                                    HTTP/1.1 503 ... x-weft-error: unknown_instance
 *                                                    x-weft-answered-by: agent/<id>
 *
 * A sends no byte of the client's until B answered 200 (so a refusal is
 * always safe to retry elsewhere: nothing reached any app). B connects to
 * the local instance named by x-weft-instance and splices (tunnel-registry.ts);
 * when the instance is not registered (any more) it answers unknown_instance,
 * when the connect fails upstream_connect_failed, as for HTTP requests.
 *
 * With mesh TLS (`tls`, the same ClientTls the HTTP pools to that peer use,
 * mesh-tls.ts) the hop is mutual TLS 1.3: A presents its certificate and
 * checks that the peer is the agent it meant (a PeerIdentityError
 * otherwise); CONNECT is written only after the handshake, so a TLS failure
 * is a connect failure (nothing reached any app). B reads the caller from
 * the connection's certificate (inbound-listener.ts).
 */

import { connect as netConnect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import {
  ANSWERED_BY_HEADER,
  MeshErrorCode as Codes,
  ERROR_HEADER,
  INSTANCE_HEADER,
  type MeshErrorCode,
  meshHttpStatus,
  type SourceIdentity,
} from '@weft/shared';
import type { LocalInstances } from '../contracts.js';
import type { ClientTls } from '../http1/client-connection.js';
import { isTlsConnectFailure } from '../http1/errors.js';
import { isField, parseResponseHead } from '../http1/head-parser.js';
import type { ConnectRequest } from '../http1/server-connection.js';
import { SocketTunnel } from '../http1/socket-tunnel.js';
import type { AccessGate } from './access-gate.js';
import { TIMEOUT_HEADER } from './headers.js';
import { splitErrorField, writeRawMeshError } from './mesh-response.js';
import type { RequestLog } from './request-log.js';
import type { Tunnels } from './tunnel-registry.js';

/** Why a TCP connect produced no connection. `connect`: nothing answered; `not_delivered`: the peer agent said so (safe elsewhere); `refused`: the peer refused for another reason. */
export type TcpFailureKind = 'connect' | 'not_delivered' | 'refused';

export type TcpConnectOutcome =
  | { ok: true; tunnel: SocketTunnel }
  | { ok: false; kind: TcpFailureKind; code: MeshErrorCode; message: string; detail?: string };

/** Codes a peer agent answers when it could not hand the connection to the app: retried elsewhere. */
const NOT_DELIVERED = new Set<string>([Codes.unknownInstance, Codes.upstreamConnectFailed, Codes.shuttingDown]);

const MAX_ANSWER_HEAD_BYTES = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

/** Connects straight to `address:port` (a local instance); the tunnel starts paused until spliced. */
export function connectDirect(address: string, port: number, timeoutMs: number): Promise<TcpConnectOutcome> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: address, port, noDelay: true, allowHalfOpen: true });
    const timer = setTimeout(
      () => socket.destroy(Object.assign(new Error(`timeout after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    const onError = (err: Error & { code?: string }): void => {
      clearTimeout(timer);
      resolve({
        ok: false,
        kind: 'connect',
        code: Codes.upstreamConnectFailed,
        message: `connect to ${address}:${port} failed (${err.code ?? err.message})`,
      });
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve({ ok: true, tunnel: SocketTunnel.attach(socket) });
    });
  });
}

/** Opens the mesh hop to a peer agent's inbound listener for `instanceId`; resolves once the peer answered. */
export function connectViaPeer(
  agentAddress: string,
  agentPort: number,
  target: { service: string; port: number; instanceId: string },
  timeoutMs: number,
  tls?: ClientTls,
): Promise<TcpConnectOutcome> {
  return new Promise((resolve) => {
    const where = `agent ${agentAddress}:${agentPort}`;
    let socket: Socket;
    if (tls === undefined) socket = netConnect({ host: agentAddress, port: agentPort, noDelay: true, allowHalfOpen: true });
    else {
      // allowHalfOpen is net's option, which tls.connect passes on (a half-close is forwarded, as on the plaintext hop).
      const generation = tls.generation;
      const options = { ...tls.connectOptions(), host: agentAddress, port: agentPort, allowHalfOpen: true };
      const secure: TLSSocket = tlsConnect(options);
      secure.setNoDelay(true);
      secure.on('session', (session: Buffer) => {
        if (connected) tls.onSession(session, generation);
      });
      socket = secure;
    }
    let settled = false;
    let connected = false;
    let head: Buffer | null = null;
    const settle = (o: TcpConnectOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (!o.ok) socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(
      () =>
        settle({
          ok: false,
          kind: 'connect',
          code: Codes.upstreamConnectFailed,
          message: `${where}: no answer to CONNECT within ${timeoutMs} ms`,
        }),
      timeoutMs,
    );
    const onError = (err: Error & { code?: string }): void => {
      // A TLS refusal names its cause (not the peer we meant, a refused certificate); anything else by its code.
      const why = isTlsConnectFailure(err)
        ? err.message
        : !connected && tls !== undefined
          ? `TLS: ${err.message}`
          : (err.code ?? err.message);
      settle({
        ok: false,
        kind: 'connect',
        code: Codes.upstreamConnectFailed,
        message: `${where}: ${connected ? 'connection failed before an answer' : 'connect failed'} (${why})`,
      });
    };
    const onClose = (): void => {
      settle({ ok: false, kind: 'connect', code: Codes.upstreamConnectFailed, message: `${where}: closed before answering CONNECT` });
    };
    const onData = (chunk: Buffer): void => {
      const buf = head === null ? chunk : Buffer.concat([head, chunk]);
      const end = buf.indexOf(HEAD_END);
      if (end < 0) {
        if (buf.length > MAX_ANSWER_HEAD_BYTES) onError(new Error('answer head too large'));
        else head = buf;
        return;
      }
      let answer: ReturnType<typeof parseResponseHead>;
      try {
        answer = parseResponseHead(buf.toString('latin1', 0, end), 'CONNECT', ERROR_HEADER);
      } catch (err) {
        onError(err as Error);
        return;
      }
      const rest = buf.subarray(end + 4);
      if (answer.statusCode >= 200 && answer.statusCode < 300) {
        settle({ ok: true, tunnel: SocketTunnel.attach(socket, rest.length > 0 ? rest : null) });
        return;
      }
      // "forbidden; policy=echo/1": the code decides, the detail is passed on to whoever asked (tcp-outbound.ts).
      const noted = answer.noted === undefined ? undefined : splitErrorField(answer.noted);
      const code = noted?.code;
      const marked = answer.rawHeaders.some((v, i) => i % 2 === 0 && isField(v, ANSWERED_BY_HEADER));
      const detail = rest.toString('utf8', 0, Math.min(rest.length, 300)).trim();
      const message = `${where}: ${answer.statusCode}${code ? ` ${code}` : ''}${detail ? ` (${detail})` : ''}`;
      if (marked && code !== undefined && NOT_DELIVERED.has(code)) {
        settle({ ok: false, kind: 'not_delivered', code: code as MeshErrorCode, message });
      } else {
        settle({
          ok: false,
          kind: 'refused',
          code: marked && code !== undefined ? (code as MeshErrorCode) : Codes.upstreamConnectFailed,
          message,
          ...(marked && noted?.detail !== undefined ? { detail: noted.detail } : {}),
        });
      }
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    const onConnected = (): void => {
      connected = true;
      const authority = `${target.service}:${target.port}`;
      socket.write(
        `CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n${INSTANCE_HEADER}: ${target.instanceId}\r\n${TIMEOUT_HEADER}: ${Math.ceil(timeoutMs)}\r\n\r\n`,
        'latin1',
      );
    };
    if (tls === undefined) socket.once('connect', onConnected);
    else
      socket.once('secureConnect', () => {
        // A resumed session runs no checkServerIdentity: ClientTls decides (e.g. the peer was revoked since).
        const refused = (socket as TLSSocket).isSessionReused() ? tls.checkResumed?.() : undefined;
        if (refused !== undefined) onError(refused);
        else onConnected();
      });
  });
}

export interface InboundConnectDeps {
  agentId: string;
  local: LocalInstances;
  tunnels: Tunnels;
  requestLog: RequestLog;
  connectTimeoutMs: number;
  /** Access enforcement (method CONNECT, path "/"); absent: not enforced. */
  access?: AccessGate;
  /** The caller of a CONNECT: its connection's verified certificate (inbound-mesh-tls.ts). */
  identify?: (connect: ConnectRequest) => SourceIdentity | undefined;
}

/** The log fields of an answer's detail: `policy=echo/1` -> { policy: 'echo/1' } (what the access log and metrics call the rule). */
export function detailFields(detail: string | undefined): Record<string, string> {
  if (detail === undefined) return {};
  const eq = detail.indexOf('=');
  return eq > 0 ? { [detail.slice(0, eq)]: detail.slice(eq + 1) } : { note: detail };
}

/** Agent B's side of the mesh hop: the inbound listener's CONNECT handler. */
export function inboundConnect(d: InboundConnectDeps): (socket: Socket, target: string, connect: ConnectRequest) => void {
  const mark = `${ANSWERED_BY_HEADER}: agent/${d.agentId}\r\n`;
  const refuse = (socket: Socket, code: MeshErrorCode, message: string, fields: Record<string, unknown>, detail?: string): void => {
    d.requestLog.log('connect refused', code, { ...fields, ...detailFields(detail), detail: message });
    writeRawMeshError(socket, meshHttpStatus(code), code, message, mark, detail);
  };
  return (socket, target, connect) => {
    const instanceId = connect.header(INSTANCE_HEADER)?.trim();
    if (!instanceId) {
      refuse(
        socket,
        Codes.badRequest,
        `CONNECT ${target}: ${INSTANCE_HEADER} missing; this port only accepts mesh traffic from Weft agents`,
        {},
      );
      return;
    }
    const instance = d.local.get(instanceId);
    if (instance === undefined) {
      refuse(socket, Codes.unknownInstance, `instance ${instanceId}: not registered on this host (agent ${d.agentId})`, {
        instance: instanceId,
      });
      return;
    }
    const asked = Number(connect.header(TIMEOUT_HEADER));
    const timeoutMs = asked > 0 ? Math.min(asked, d.connectTimeoutMs) : d.connectTimeoutMs;
    const decided =
      d.access === undefined
        ? Promise.resolve(undefined)
        : d.access.checkWhenReady(instance.service, d.identify?.(connect), 'CONNECT', '/', '');
    void decided.then((denied) => {
      if (denied === undefined) return open();
      // As an HTTP denial: `x-weft-error: forbidden; policy=echo/1`, the body names the source and the rule.
      refuse(socket, denied.code, denied.message, { service: instance.service, instance: instanceId }, denied.detail);
    });
    const open = () =>
      connectDirect(instance.address, instance.port, timeoutMs).then((o) => {
        const fields = { service: instance.service, instance: instanceId };
        if (!o.ok) {
          d.tunnels.tunnelMetrics.connectFailed('inbound', instance.service);
          refuse(socket, o.code, `service ${instance.service}: instance ${instanceId}: ${o.message}`, fields);
          return;
        }
        if (socket.destroyed) {
          o.tunnel.destroy();
          return;
        }
        const client = connect.accept('HTTP/1.1 200 Connection Established\r\n\r\n');
        void d.tunnels.splice(client, o.tunnel, { kind: 'tcp', service: instance.service, instanceId, localInstance: true });
      });
  };
}
