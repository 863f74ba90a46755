/**
 * Why a request cannot be handed to an instance in the instance's protocol
 * (docs/protocols.md, "Translation between HTTP/1.1 and HTTP/2"): a gRPC call
 * to an HTTP/1.1 instance (gRPC needs HTTP/2's trailers and streams), an
 * Upgrade (WebSocket) to an HTTP/2 instance (the agent does not speak
 * RFC 8441's extended CONNECT), anything HTTP to a `tcp` instance. A try
 * fails with it as its error (kind `invalid`: nothing was sent), and the
 * strategy answers with its code and message.
 */
import { MeshErrorCode } from '@weft/shared';

export class NotTranslatable extends Error {
  override name = 'NotTranslatable';
  constructor(
    readonly code: MeshErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The instance speaks HTTP/2 (h2c): `http2` or `grpc` registrations. */
export function speaksH2(protocol: string | undefined): boolean {
  return protocol === 'http2' || protocol === 'grpc';
}

/** The instance speaks HTTP/1.1: `http`, the default. */
export function speaksH1(protocol: string | undefined): boolean {
  return protocol === undefined || protocol === 'http';
}

/** Why an HTTP/2 request (`grpc`: a gRPC call) cannot go to an instance speaking `protocol`; undefined: it can (perhaps translated). */
export function h2Refusal(protocol: string | undefined, grpc: boolean): NotTranslatable | undefined {
  if (speaksH2(protocol)) return undefined;
  if (speaksH1(protocol)) {
    if (!grpc) return undefined;
    return new NotTranslatable(
      MeshErrorCode.protocolNotTranslatable,
      'a gRPC call cannot be carried to an HTTP/1.1 instance (gRPC needs HTTP/2 trailers); register the instance with protocol grpc',
    );
  }
  return new NotTranslatable(MeshErrorCode.upstreamProtocolError, `it speaks ${protocol}, not HTTP: the HTTP/2 call was not forwarded`);
}
