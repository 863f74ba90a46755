import { ANSWERED_BY_HEADER, ERROR_HEADER } from '@weft/shared';
import { responseHeader, type UpstreamResponse } from './forward.js';

/**
 * The x-weft-error code the mesh believes of an upstream answer, '' for none.
 * Believed only from a peer agent's inbound listener that marked the answer
 * as its own (x-weft-answered-by, which it removes from every app answer):
 * an app that answers `503 x-weft-error: unknown_instance` has its answer
 * passed on as it is, never retried as "not delivered" nor counted as a
 * mesh failure. Details after the code ("; policy=orders/1") are not part
 * of it. Reads the marker only when there is an x-weft-error
 * (noted by the parser), so the usual answer costs nothing here.
 */
export function believedMeshCode(response: UpstreamResponse): string {
  if (response.viaPeer !== true) return '';
  const value = responseHeader(response, ERROR_HEADER);
  if (value === undefined) return '';
  if (responseHeader(response, ANSWERED_BY_HEADER) === undefined) return '';
  // "forbidden; policy=orders/1": the code is what is believed and counted.
  const semi = value.indexOf(';');
  return semi < 0 ? value : value.slice(0, semi).trim();
}
