/**
 * Requests in flight per endpoint (instance id), from the start of a try
 * until its response body is finished or the try failed. The least-request
 * picker reads it through LoadView; only the proxy writes it.
 */
import type { Endpoint } from '@weft/shared';
import type { TrySend } from './forward.js';

export class LoadTracker {
  private readonly counts = new Map<string, number>();

  active(instanceId: string): number {
    return this.counts.get(instanceId) ?? 0;
  }

  /** Counts one request to `instanceId`; call the returned function exactly once when it is done. */
  start(instanceId: string): () => void {
    this.counts.set(instanceId, this.active(instanceId) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = this.active(instanceId) - 1;
      if (n > 0) this.counts.set(instanceId, n);
      else this.counts.delete(instanceId);
    };
  }
}

/** Wraps a TrySend so each try is counted until its response body closes. */
export function withLoadTracking(tracker: LoadTracker, send: TrySend): TrySend {
  return async (endpoint: Endpoint, attempt) => {
    const done = tracker.start(endpoint.instanceId);
    const outcome = await send(endpoint, attempt).catch((error: unknown) => {
      done();
      throw error;
    });
    if (outcome.ok) outcome.response.body.whenClosed(done);
    else done();
    return outcome;
  };
}
