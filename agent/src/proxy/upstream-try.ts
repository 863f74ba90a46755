/**
 * One try against an upstream, as the upstream client's handler and, once
 * the head arrived, the response's ResponseBody. The try is one explicit
 * state with checked transitions (the model: grpc-js subchannel.ts
 * `transitionToState`): a move the table below does not allow is a bug in
 * the proxy, and throws rather than corrupting another request's response.
 *
 *   awaiting-head ──head──▶ held ──pipeTo──▶ streaming ──┐
 *        │                   │  ╲──discard─▶ draining ───┤
 *        │                   │   ╲─destroy──────────────▶ closed
 *        ▼                   ├──body complete──▶ held-complete ─▶ closed
 *      failed                └──body failed────▶ held-failed ───▶ closed
 *
 *   awaiting-head ──101 to an upgrade request──▶ upgraded (final: the
 *   connection is a tunnel now, handed out with the response)
 *
 * `failed`, `upgraded` and `closed` are final. Flow control (the upstream socket paused
 * while the client's socket is full, or while more than HOLD_BYTES wait for
 * the caller's decision) is not a state: it is whether `resume` is owed.
 * The client-gone link stays until the body is done, so a client that leaves
 * mid-download aborts the upstream transfer too.
 */
import type { ClientHandler } from '../http1/client-connection.js';
import type { ResponseHead } from '../http1/head-parser.js';
import type { SocketTunnel } from '../http1/socket-tunnel.js';
import type { GoneSignal } from './client-link.js';
import type { FailureKind, ResponseBody, ResponseSink, TryOutcome } from './try-outcome.js';

export type TryState =
  | 'awaiting-head'
  | 'failed'
  | 'upgraded'
  | 'held'
  | 'held-complete'
  | 'held-failed'
  | 'streaming'
  | 'draining'
  | 'closed';

/** Bytes of response body held before the caller decided what to do with it; beyond that the upstream socket pauses. */
const HOLD_BYTES = 64 * 1024;

export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
}

export class ClientGone extends Error {
  override name = 'ClientGone';
}

/** A transition the table does not allow: a bug in the proxy, never a condition of the network. */
export class TryStateError extends Error {
  override name = 'TryStateError';
}

/** Builds the response handed out with the head (forward.ts's ReceivedResponse). */
export type ResponseFactory = (head: ResponseHead, body: ResponseBody, tunnel?: SocketTunnel) => TryOutcome & { ok: true };

/** Classifies an error that ended the try before its head (forward.ts). */
export type Classifier = (err: Error, clientGone: boolean) => FailureKind;

export class UpstreamTry implements ClientHandler, ResponseBody {
  readonly outcome: Promise<TryOutcome>;
  private resolve!: (o: TryOutcome) => void;
  private state: TryState = 'awaiting-head';
  private timer: NodeJS.Timeout | undefined;
  /** The client's abort for this request, once it is on a connection. */
  private abortFn: ((err?: Error) => void) | undefined;
  /** An abort asked for before the client gave us abortFn. */
  private pendingAbort: Error | undefined;
  /** The client's resume after onHeaders/onData returned false; set while the upstream is paused. */
  private resumeFn: (() => void) | undefined;
  private upstreamResume: (() => void) | undefined;
  /** Body bytes that arrived while `held`. */
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  /** The body's error, in `held-failed`. */
  private failure: Error | undefined;
  private sink: ResponseSink | null = null;
  /** The sink whose 'drain' we listen to (hooked once, on the first full write). */
  private drainSink: ResponseSink | null = null;
  private done: ((err: Error | undefined) => void) | undefined;
  private closeFn: (() => void) | undefined;

  constructor(
    private readonly gone: GoneSignal,
    timeoutMs: number,
    private readonly respond: ResponseFactory,
    private readonly classify: Classifier,
    private readonly onOutcome: ((outcome: TryOutcome) => void) | undefined,
  ) {
    this.outcome = new Promise<TryOutcome>((resolve) => {
      this.resolve = resolve;
    });
    this.timer = setTimeout(this.onTimeout, timeoutMs);
    gone.addEventListener('abort', this.onGone, { once: true });
  }

  /** The current state (tests and assertions). */
  get current(): TryState {
    return this.state;
  }

  /** Moves to `to`, checking that the try is in one of `from`. */
  private transition(from: readonly TryState[], to: TryState): void {
    if (!from.includes(this.state)) throw new TryStateError(`upstream try: ${this.state} -> ${to} is not allowed`);
    this.state = to;
  }

  private readonly onTimeout = (): void => {
    this.timer = undefined;
    this.cancel(new DeadlineExceeded('no response head in time'), 'timeout');
  };

  private readonly onGone = (): void => {
    this.cancel(new ClientGone('client gone'), 'aborted');
  };

  /** Aborts the upstream request; before the head, the try fails at once with `kind` (without waiting for a connection). */
  private cancel(err: Error, kind: FailureKind): void {
    // Fail first: the abort below reports back through onError, which must not classify it as a reset.
    if (this.state === 'awaiting-head') this.fail(kind, err);
    if (this.abortFn !== undefined) this.abortFn(err);
    else this.pendingAbort ??= err;
  }

  private fail(kind: FailureKind, error: unknown): void {
    this.transition(['awaiting-head'], 'failed');
    this.stopWaiting();
    this.gone.removeEventListener('abort', this.onGone);
    this.settle({ ok: false, kind, error });
  }

  private stopWaiting(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Hands out the outcome: the caller's hook first (synchronously), then the promise. */
  private settle(outcome: TryOutcome): void {
    this.onOutcome?.(outcome);
    this.resolve(outcome);
  }

  // --- the upstream client's side ---

  onConnect(abort: (err?: Error) => void): void {
    if (this.pendingAbort !== undefined) abort(this.pendingAbort);
    else this.abortFn = abort;
  }

  onHeaders(head: ResponseHead, resume: () => void): boolean {
    if (this.state !== 'awaiting-head') return false;
    this.transition(['awaiting-head'], 'held');
    this.stopWaiting();
    this.upstreamResume = resume;
    this.settle(this.respond(head, this));
    return true;
  }

  onUpgrade(head: ResponseHead, tunnel: SocketTunnel): void {
    if (this.state !== 'awaiting-head') {
      tunnel.destroy();
      return;
    }
    this.transition(['awaiting-head'], 'upgraded');
    this.stopWaiting();
    this.gone.removeEventListener('abort', this.onGone);
    this.settle(this.respond(head, tunnelBody(tunnel), tunnel));
  }

  onData(chunk: Buffer): boolean {
    switch (this.state) {
      case 'streaming': {
        const sink = this.sink!;
        if (sink.write(chunk)) return true;
        this.pauseUntilDrain(sink);
        return false;
      }
      case 'held':
        if (this.held === null) this.held = [chunk];
        else this.held.push(chunk);
        this.heldBytes += chunk.length;
        if (this.heldBytes < HOLD_BYTES) return true;
        this.resumeFn = this.upstreamResume;
        return false;
      default:
        // draining, or closed after a destroy: the bytes are dropped.
        return true;
    }
  }

  onComplete(): void {
    switch (this.state) {
      case 'held':
        this.transition(['held'], 'held-complete');
        return;
      case 'streaming':
        this.sink!.end();
        this.finish(undefined);
        return;
      case 'draining':
        this.finish(undefined);
        return;
      default:
        return;
    }
  }

  onError(err: Error): void {
    switch (this.state) {
      case 'awaiting-head':
        this.fail(this.classify(err, this.gone.aborted), err);
        return;
      case 'held':
        this.transition(['held'], 'held-failed');
        this.failure = err;
        return;
      case 'streaming':
        this.sink!.destroy();
        this.finish(err);
        return;
      case 'draining':
        this.finish(undefined);
        return;
      default:
        return;
    }
  }

  // --- the caller's side (ResponseBody) ---

  pipeTo(res: ResponseSink, done: (err: Error | undefined) => void): void {
    this.done = done;
    const held = this.held;
    this.held = null;
    if (this.state === 'held-failed') {
      res.destroy();
      this.finish(this.failure);
      return;
    }
    if (this.state === 'held-complete') {
      // The usual small answer: head and body leave in one write.
      if (held === null) res.end();
      else if (held.length === 1) res.end(held[0]);
      else {
        for (const chunk of held) res.write(chunk);
        res.end();
      }
      this.finish(undefined);
      return;
    }
    this.transition(['held'], 'streaming');
    this.sink = res;
    let full = false;
    if (held !== null) for (const chunk of held) full = !res.write(chunk);
    if (full) this.pauseUntilDrain(res);
    else this.resumeUpstream();
  }

  discard(): void {
    this.held = null;
    if (this.state === 'held-complete' || this.state === 'held-failed') {
      this.finish(undefined);
      return;
    }
    this.transition(['held'], 'draining');
    this.resumeUpstream();
  }

  destroy(err?: Error): void {
    this.held = null;
    const state = this.state;
    if (state === 'closed' || state === 'failed') return;
    if (state !== 'held-complete' && state !== 'held-failed') this.abortFn?.(err ?? new Error('response body dropped'));
    this.finish(undefined);
  }

  failedEarly(): Error | undefined {
    return this.state === 'held-failed' ? this.failure : undefined;
  }

  whenClosed(fn: () => void): void {
    if (this.state === 'closed' || this.state === 'failed') {
      fn();
      return;
    }
    const prev = this.closeFn;
    this.closeFn =
      prev === undefined
        ? fn
        : () => {
            prev();
            fn();
          };
  }

  private pauseUntilDrain(sink: ResponseSink): void {
    this.resumeFn = this.upstreamResume;
    if (this.drainSink === null) {
      this.drainSink = sink;
      sink.on('drain', this.onDrain);
    }
  }

  private readonly onDrain = (): void => {
    if (this.state === 'streaming') this.resumeUpstream();
  };

  /** Resumes the upstream socket if it was paused (flow control). */
  private resumeUpstream(): void {
    const resume = this.resumeFn;
    if (resume === undefined) return;
    this.resumeFn = undefined;
    resume();
  }

  private finish(err: Error | undefined): void {
    this.transition(['held', 'held-complete', 'held-failed', 'streaming', 'draining'], 'closed');
    this.gone.removeEventListener('abort', this.onGone);
    if (this.drainSink !== null) this.drainSink.off('drain', this.onDrain);
    const closeFn = this.closeFn;
    this.closeFn = undefined;
    closeFn?.();
    const done = this.done;
    this.done = undefined;
    done?.(err);
  }
}

/**
 * The "body" of a 101: nothing to stream (the tunnel carries the bytes);
 * dropping the answer (a retry, a client gone) closes the tunnel, and
 * `whenClosed` waits for the tunnel's end, so load tracking counts an open
 * tunnel as a request in progress.
 */
function tunnelBody(tunnel: SocketTunnel): ResponseBody {
  return {
    pipeTo(_res, done) {
      done(undefined);
    },
    discard() {
      tunnel.destroy();
    },
    destroy() {
      tunnel.destroy();
    },
    whenClosed(fn) {
      if (tunnel.socket.closed) fn();
      else tunnel.socket.once('close', fn);
    },
  };
}
