/**
 * Drops subscriptions to services this agent has not used for a while.
 *
 * An agent subscribes lazily, on the first request for a service (or a
 * `weft explain`), and used to keep every subscription for its whole life:
 * a typo'd Host or a one-off explain left `endpoints/<x>` and `policy/<x>`
 * subscribed forever, in the agent's memory and in `weft status`. The view
 * notes each use on a coarse clock (`tick`, advanced by this sweeper, so the
 * hot path pays one Map.set and no Date.now()); a service unused for longer
 * than the idle time is unsubscribed. The next request subscribes again.
 *
 * Never dropped: services pinned by the agent (its local instances' services
 * and local upstream ports, so inbound access decisions and TCP upstreams
 * keep their config), and nothing while the control plane is unreachable
 * (static stability: what is held is all there is).
 */

/** How many sweeps make one idle time: a service is dropped between 1 and 1.25 idle times after its last use. */
export const SWEEPS_PER_IDLE = 4;

export interface IdleTarget {
  /** Services subscribed now. */
  subscribedServices(): readonly string[];
  /** The tick of a service's last use, undefined when never noted. */
  lastUsed(service: string): number | undefined;
  /** Notes a use at `tick` (first sight of a seeded or restored subscription). */
  noteUse(service: string, tick: number): void;
  /** Advances the use clock. */
  setTick(tick: number): void;
  isConnected(): boolean;
  /** Drops the services' subscriptions and what the view holds for them. */
  drop(services: readonly string[]): void;
}

export class IdleSubscriptions {
  private tick = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly target: IdleTarget,
    /** 0 = never drop. */
    private readonly idleMs: number,
    private readonly isPinned: (service: string) => boolean = () => false,
  ) {}

  start(): void {
    if (this.idleMs <= 0 || this.timer) return;
    this.timer = setInterval(() => this.sweep(), Math.max(10, Math.floor(this.idleMs / SWEEPS_PER_IDLE)));
    this.timer.unref();
  }

  /** One sweep; returns the services dropped (exported for tests). */
  sweep(): string[] {
    this.tick++;
    this.target.setTick(this.tick);
    if (!this.target.isConnected()) return [];
    const idle: string[] = [];
    for (const service of this.target.subscribedServices()) {
      const last = this.target.lastUsed(service);
      if (last === undefined) {
        this.target.noteUse(service, this.tick);
        continue;
      }
      if (this.tick - last > SWEEPS_PER_IDLE && !this.isPinned(service)) idle.push(service);
    }
    if (idle.length > 0) this.target.drop(idle);
    return idle;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
