/**
 * The error-to-response mapping of each direction, on top of the shared
 * writer in mesh-response.ts (linkerd2-proxy keeps one `ServerRescue` per
 * direction over a shared `errors/respond.rs`; this is the same split).
 *
 * Outbound answers a local app: x-weft-error, a readable body, the request id.
 * Inbound answers a peer agent, and marks its own answers with
 * x-weft-answered-by so the calling agent can tell them from an app's
 * (an app's answers have that header removed): only a marked answer's
 * x-weft-error is believed, e.g. "unknown_instance: not delivered, safe to
 * retry elsewhere".
 */
import { ANSWERED_BY_HEADER, ERROR_HEADER, type MeshErrorCode } from '@weft/shared';
import type { Http1Response } from '../http1/server-message.js';
import { sendMeshError } from './mesh-response.js';

/**
 * Writes the mesh's own answer for `code` on `res` (or cuts the response if
 * it has started); `detail` follows the code in x-weft-error ("forbidden; policy=orders/1").
 */
export type Rescue = (res: Http1Response, code: MeshErrorCode, message: string, requestId: string, detail?: string) => void;

const withDetail = (code: MeshErrorCode, detail: string) => ({ [ERROR_HEADER]: `${code}; ${detail}` });

export const outboundRescue: Rescue = (res, code, message, requestId, detail) => {
  sendMeshError(res, code, message, requestId, undefined, detail === undefined ? undefined : withDetail(code, detail));
};

export function inboundRescue(agentId: string): Rescue {
  const mark = { [ANSWERED_BY_HEADER]: `agent/${agentId}` };
  return (res, code, message, requestId, detail) => {
    sendMeshError(res, code, message, requestId, undefined, detail === undefined ? mark : { ...mark, ...withDetail(code, detail) });
  };
}
