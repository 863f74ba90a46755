/**
 * Who a local app is, on the outbound listener (docs/security.md, "Local
 * apps"): standard proxy authentication. An app calls through
 * `http://<service>:<secret>@127.0.0.1:15001`, so its client sends
 * `Proxy-Authorization: Basic base64(<service>:<secret>)` with every request
 * (HTTP/1.1 absolute-form and Host-header requests, CONNECT) or stream
 * (HTTP/2 to the outbound port). The secret is the one its registration
 * returned (local-api/proxy-credentials.ts implements CredentialCheck).
 *
 * - a valid credential: the source is `spiffe://<td>/svc/<service>`, and the
 *   mesh hop presents that service's certificate;
 * - no credential: the source is this host's agent
 *   (`spiffe://<td>/agent/<id>`): any process on the host can be that;
 * - a credential that is malformed or matches no registration: 407
 *   `x-weft-error: proxy_auth_invalid` (never treated as "no credential",
 *   so a typo does not silently call as the agent).
 *
 * The header is hop-by-hop: it never leaves this agent (headers.ts).
 */
import { agentSpiffeId, MeshErrorCode, type SourceIdentity, serviceSpiffeId } from '@weft/shared';
import type { RequestHandler } from './listener-server.js';
import { releaseRequestBody, sendMeshError } from './mesh-response.js';

/** Checks a credential; the service it belongs to, or undefined. Constant-time in the secret. */
export interface CredentialCheck {
  verify(username: string, secret: string): string | undefined;
}

export const PROXY_AUTHORIZATION = 'proxy-authorization';
/** Sent with a 407 so clients know to authenticate (RFC 9110 §11.7.1). */
export const PROXY_AUTHENTICATE = { 'proxy-authenticate': 'Basic realm="weft"' } as const;
export const PROXY_AUTHENTICATE_LINE = 'proxy-authenticate: Basic realm="weft"\r\n';

/** A refused credential: the 407 the outbound listener answers. */
export class ProxyAuthError extends Error {
  readonly code = MeshErrorCode.proxyAuthInvalid;
}

/**
 * Reads `Proxy-Authorization: Basic <base64(user:secret)>`: undefined when
 * absent; a ProxyAuthError naming what is wrong when it is not a Basic
 * credential of the form user:secret.
 */
export function parseProxyAuthorization(value: string | undefined): { username: string; secret: string } | ProxyAuthError | undefined {
  if (value === undefined) return undefined;
  const m = /^Basic +([A-Za-z0-9+/=]{1,1024}) *$/i.exec(value);
  if (m === null) return new ProxyAuthError('proxy-authorization: must be "Basic <base64 of service:secret>"');
  const text = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) return new ProxyAuthError('proxy-authorization: must carry "service:secret"');
  return { username: text.slice(0, colon), secret: text.slice(colon + 1) };
}

/**
 * The outbound listener's HTTP/1.1 handler behind the credential check: a
 * refused credential is answered 407 here; otherwise the request's source
 * (RequestContext.source, read by the pipeline as Exchange.source) is the
 * caller and `handler` runs.
 */
export function withLocalCallers(callers: LocalCallers, handler: RequestHandler, onRefused: (message: string) => void): RequestHandler {
  return (req, res, ctx) => {
    const who = callers.identify(req.header(PROXY_AUTHORIZATION));
    if (who instanceof ProxyAuthError) {
      onRefused(who.message);
      res.setHeader('connection', 'close');
      releaseRequestBody(req, res);
      sendMeshError(res, who.code, who.message, undefined, 407, PROXY_AUTHENTICATE);
      return Promise.resolve();
    }
    ctx.source = who;
    return handler(req, res, ctx);
  };
}

/** Identifies local callers of one agent from their Proxy-Authorization value. */
export class LocalCallers {
  /** A caller without a credential: this host's agent. */
  readonly agent: SourceIdentity;
  private readonly services = new Map<string, SourceIdentity>();

  constructor(
    private readonly trustDomain: string,
    agentId: string,
    private readonly credentials: CredentialCheck,
  ) {
    this.agent = Object.freeze({ spiffeId: agentSpiffeId(trustDomain, agentId), agentId, authenticated: true });
  }

  /** The caller of one request (or stream) from its Proxy-Authorization value; a ProxyAuthError to answer with 407. */
  identify(value: string | undefined): SourceIdentity | ProxyAuthError {
    const parsed = parseProxyAuthorization(value);
    if (parsed === undefined) return this.agent;
    if (parsed instanceof ProxyAuthError) return parsed;
    const service = this.credentials.verify(parsed.username, parsed.secret);
    if (service === undefined)
      return new ProxyAuthError(
        `proxy-authorization: no local registration of service ${JSON.stringify(parsed.username.slice(0, 64))} has this secret ` +
          '(use the credential its registration returned; registering again replaces it)',
      );
    let identity = this.services.get(service);
    if (identity === undefined) {
      identity = Object.freeze({ spiffeId: serviceSpiffeId(this.trustDomain, service), service, authenticated: true });
      this.services.set(service, identity);
    }
    return identity;
  }
}
