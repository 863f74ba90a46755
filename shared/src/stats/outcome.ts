/**
 * How one finished request is classified in the golden metrics
 * (docs/metrics.md). Success is the app's own answer with a status below
 * 500: an answer the mesh made itself (any x-weft-error: unknown service,
 * no healthy endpoint, timeout, circuit open, forbidden, rate limited, a
 * reset mid-response...) is a mesh error, and the app's 5xx an app error,
 * whatever its status. A request whose client left before the answer
 * (client_gone) is cancelled: counted in the request rate, left out of the
 * success rate (nobody was there to be failed).
 */

export const OUTCOMES = ['success', 'app_error', 'mesh_error', 'cancelled'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Index of each outcome in per-outcome arrays. */
export const Outcome = { success: 0, appError: 1, meshError: 2, cancelled: 3 } as const;

/** The x-weft-error code the pipelines give a request whose client went away. */
export const CLIENT_GONE_CODE = 'client_gone';

/**
 * The outcome index of a request answered with `status` (0 when no head was
 * sent) and `error` (its x-weft-error code, '' for the app's own answer).
 */
export function outcomeOf(status: number, error: string): number {
  if (error === CLIENT_GONE_CODE) return Outcome.cancelled;
  if (error !== '') return Outcome.meshError;
  // No head and no mesh code: the app's answer never arrived whole.
  return status >= 500 || status === 0 ? Outcome.appError : Outcome.success;
}
