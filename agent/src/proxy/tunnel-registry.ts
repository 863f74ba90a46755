/**
 * The tunnels of one listener: each splices a client connection to an
 * upstream connection (a WebSocket after its 101, a TCP connection after
 * CONNECT or on a local upstream port), bytes unchanged both ways.
 *
 * Per direction, bytes are written as they arrive; when the receiving
 * socket is full, the sending one stops reading until it drains
 * (backpressure both ways). A FIN is passed on as a FIN (half-close: the
 * other direction keeps flowing); a reset, or a close without FIN, destroys
 * the other side. A tunnel ends when both connections are closed.
 *
 * One sweep (not a timer per tunnel) closes tunnels that carried no byte
 * for `idleTimeoutMs`, that are older than `maxDurationMs`, and, where the
 * instance is on this host, tunnels whose instance was deregistered
 * `drainMs` ago (new connections to it are refused at once, as requests are;
 * open ones get the drain period to finish).
 */
import type { Logger } from '@weft/shared';
import type { LocalInstances } from '../contracts.js';
import type { SocketTunnel } from '../http1/socket-tunnel.js';
import type { Direction } from './proxy-metrics.js';
import type { TunnelCloseReason, TunnelCounters, TunnelKind, TunnelMetrics } from './tunnel-metrics.js';

export interface TunnelOptions {
  /** A tunnel that carried no byte either way for this long is closed (0: never). */
  idleTimeoutMs: number;
  /** A tunnel is closed this long after it opened, whatever it carries (0: never). */
  maxDurationMs: number;
  /** A tunnel to a local instance that was deregistered is closed after this long. */
  drainMs: number;
}

/** One hour idle (Envoy's TCP proxy default), one day at most, 10 s of drain (the listeners' drain bound). */
export const DEFAULT_TUNNEL_OPTIONS: TunnelOptions = { idleTimeoutMs: 3_600_000, maxDurationMs: 86_400_000, drainMs: 10_000 };

export interface TunnelInfo {
  kind: TunnelKind;
  service: string;
  instanceId: string;
  /** The instance is on this host: its deregistration drains the tunnel. */
  localInstance: boolean;
}

class Tunnel {
  /** Carried a byte since the last sweep. */
  active = false;
  lastActive: number;
  drainingSince: number | undefined;
  reason: TunnelCloseReason | undefined;
  closedSides = 0;
  readonly openedAt: number;
  readonly done: Promise<TunnelCloseReason>;
  resolve!: (reason: TunnelCloseReason) => void;

  constructor(
    readonly client: SocketTunnel,
    readonly upstream: SocketTunnel,
    readonly info: TunnelInfo,
    readonly counters: TunnelCounters,
    now: number,
  ) {
    this.openedAt = now;
    this.lastActive = now;
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  kill(reason: TunnelCloseReason): void {
    this.reason ??= reason;
    this.client.destroy();
    this.upstream.destroy();
  }
}

export class Tunnels {
  private readonly open = new Set<Tunnel>();
  private sweep: NodeJS.Timeout | undefined;
  private readonly tickMs: number;

  constructor(
    readonly direction: Direction,
    private readonly opts: TunnelOptions,
    private readonly metrics: TunnelMetrics,
    private readonly logger: Logger,
    /** This host's instances (drain on deregistration); absent: no drain. */
    private readonly local?: LocalInstances,
  ) {
    const bounds = [opts.idleTimeoutMs, opts.maxDurationMs, opts.drainMs].filter((ms) => ms > 0);
    this.tickMs = Math.max(50, Math.min(1_000, ...bounds.map((ms) => ms / 4)));
  }

  get size(): number {
    return this.open.size;
  }

  get tunnelMetrics(): TunnelMetrics {
    return this.metrics;
  }

  /** Splices `client` and `upstream` until both are closed; resolves with why the tunnel ended. */
  splice(client: SocketTunnel, upstream: SocketTunnel, info: TunnelInfo): Promise<TunnelCloseReason> {
    const t = new Tunnel(client, upstream, info, this.metrics.opening(this.direction, info.service, info.kind), Date.now());
    this.open.add(t);
    this.ensureSweep();
    this.pipe(t, client, upstream, t.counters.bytesIn);
    this.pipe(t, upstream, client, t.counters.bytesOut);
    return t.done;
  }

  /** Closes every tunnel (the listener is stopping). */
  closeAll(): void {
    for (const t of this.open) t.kill('shutdown');
  }

  private pipe(t: Tunnel, from: SocketTunnel, to: SocketTunnel, bytes: TunnelCounters['bytesIn']): void {
    let drainHooked = false;
    let ended = false;
    const onDrain = (): void => from.resume();
    from.start({
      onData(chunk) {
        t.active = true;
        bytes.inc(chunk.length);
        if (to.write(chunk)) return true;
        if (!drainHooked) {
          drainHooked = true;
          to.onDrain(onDrain);
        }
        return false;
      },
      onEnd() {
        ended = true;
        to.end();
      },
      onClose: (hadError) => {
        if (hadError || !ended) {
          // A reset, or a close without FIN: the other side cannot be finished cleanly.
          if (hadError) t.reason ??= 'reset';
          to.destroy();
        } else if (to.socket.writableFinished) to.destroy();
        else {
          // Everything `from` sent is on its way to `to`: close it once written.
          to.end();
          to.socket.once('finish', () => to.destroy());
        }
        if (drainHooked) to.offDrain(onDrain);
        if (++t.closedSides === 2) this.finish(t);
      },
    });
  }

  private finish(t: Tunnel): void {
    this.open.delete(t);
    const reason = t.reason ?? 'closed';
    t.counters.open.dec();
    t.counters.closed(reason);
    if (reason !== 'closed' && reason !== 'reset') {
      this.logger.info('tunnel closed', { service: t.info.service, instance: t.info.instanceId, kind: t.info.kind, reason });
    }
    if (this.open.size === 0 && this.sweep !== undefined) {
      clearInterval(this.sweep);
      this.sweep = undefined;
    }
    t.resolve(reason);
  }

  private ensureSweep(): void {
    if (this.sweep !== undefined) return;
    this.sweep = setInterval(() => this.check(Date.now()), this.tickMs);
    this.sweep.unref();
  }

  private check(now: number): void {
    const { idleTimeoutMs, maxDurationMs, drainMs } = this.opts;
    for (const t of this.open) {
      if (t.active) {
        t.active = false;
        t.lastActive = now;
      } else if (idleTimeoutMs > 0 && now - t.lastActive >= idleTimeoutMs) {
        t.kill('idle_timeout');
        continue;
      }
      if (maxDurationMs > 0 && now - t.openedAt >= maxDurationMs) {
        t.kill('max_duration');
        continue;
      }
      if (t.info.localInstance && this.local !== undefined) {
        if (this.local.get(t.info.instanceId) !== undefined) t.drainingSince = undefined;
        else {
          t.drainingSince ??= now;
          if (now - t.drainingSince >= drainMs) t.kill('drained');
        }
      }
    }
  }
}
