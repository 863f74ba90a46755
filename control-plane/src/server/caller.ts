/**
 * Who is calling: taken from the TLS client certificate (agents) or the
 * `authorization: Bearer <token>` metadata (operators and readers), never
 * from a field of the request. grpc-js puts the peer certificate in
 * call.getAuthContext() only when the handshake verified it against the CA
 * bundle, so an unverified certificate counts as none.
 *
 * A certificate's expiry is checked by the TLS handshake; a connection made
 * before a renewal keeps its (then old) certificate, so expiry is not
 * re-checked per call. Revocation is: every agent call checks the deny list.
 */
import type * as grpc from '@grpc/grpc-js';
import { type Logger, parseSpiffeId, uriSans } from '@weft/shared';
import type { StoredToken } from '../store/store-contract.js';
import type { Tokens } from '../trust/tokens.js';
import type { PeerIdentity } from './grpc/calls.js';

export type Caller =
  | { kind: 'agent'; agentId: string; serial: string }
  | { kind: 'operator' | 'read'; tokenId: string }
  /** --insecure: no TLS, no tokens; every call is allowed and agent ids come from the request. */
  | { kind: 'insecure' }
  | { kind: 'anonymous'; why: string };

export interface Authenticator {
  /** The caller; a promise only when a token is not in memory yet and is looked up in the store (made on another replica). */
  identify(call: CallWithAuth): Caller | Promise<Caller>;
}

/** What identify() reads of a call: its metadata, and of a verified client certificate only its SANs and serial (calls.ts keeps no more). */
export interface CallWithAuth {
  metadata: grpc.Metadata;
  getAuthContext(): { sslPeerCertificate?: PeerIdentity } | undefined;
}

/** The token in `authorization: Bearer <token>`, if any. */
export function bearerToken(value: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value ?? '');
  return m?.[1];
}

export function insecureAuthenticator(): Authenticator {
  return { identify: () => ({ kind: 'insecure' }) };
}

export function meshAuthenticator(trustDomain: string, tokens: Tokens, log: Logger): Authenticator {
  return {
    identify(call) {
      const header = call.metadata.get('authorization')[0];
      const token = bearerToken(typeof header === 'string' ? header : header?.toString());
      if (token) {
        // A bad token is an error even when a certificate is also presented: the caller meant the token.
        const toCaller = (record: StoredToken): Caller => ({ kind: record.kind as 'operator' | 'read', tokenId: record.tokenId });
        const record = tokens.checkCachedOrFresh(token, ['operator', 'read'], 'authorization');
        return record instanceof Promise ? record.then(toCaller) : toCaller(record);
      }
      const cert = call.getAuthContext()?.sslPeerCertificate;
      if (!cert) return { kind: 'anonymous', why: 'no client certificate and no token' };
      for (const uri of uriSans(cert.subjectaltname)) {
        const id = parseSpiffeId(uri);
        if (id?.kind === 'agent' && id.trustDomain === trustDomain) return { kind: 'agent', agentId: id.name, serial: cert.serialNumber };
      }
      log.debug('client certificate without an agent identity', { subjectAltName: cert.subjectaltname });
      return { kind: 'anonymous', why: 'the client certificate names no agent of this trust domain' };
    },
  };
}
