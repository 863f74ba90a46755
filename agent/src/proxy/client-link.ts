/**
 * "The client went away" for one request, without an AbortController.
 * node's AbortController/AbortSignal are EventTargets: creating one and
 * aborting it (a DOMException) costs tens of µs, more than the rest of a
 * proxy hop's own work. The proxy only needs a flag and a few listeners, so
 * GoneSignal is the structural subset of AbortSignal it uses (an AbortSignal
 * satisfies it, so tests and callers may still pass one) and ClientLink is
 * the cheap implementation the listeners create per request.
 */

/** What the proxy reads of "the client went away": an AbortSignal fits. */
export interface GoneSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** A GoneSignal the listener fires once when the client disconnects before its response is complete. */
export class ClientLink implements GoneSignal {
  aborted = false;
  /** Usually zero or one listener (the try in flight); an array only beyond that. */
  private first: (() => void) | undefined;
  private more: (() => void)[] | undefined;

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    if (this.first === undefined) this.first = listener;
    else if (this.more === undefined) this.more = [listener];
    else this.more.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.first === listener) {
      this.first = this.more?.shift();
      return;
    }
    const i = this.more?.indexOf(listener) ?? -1;
    if (i >= 0) this.more?.splice(i, 1);
  }

  /** Marks the client gone and calls every listener once. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const first = this.first;
    const more = this.more;
    this.first = undefined;
    this.more = undefined;
    first?.();
    if (more !== undefined) for (const fn of more) fn();
  }
}
