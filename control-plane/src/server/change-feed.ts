/**
 * What the dashboard's live view listens to: one timer for every open event
 * stream, which compares a cheap fingerprint of each topic with the previous
 * tick and tells subscribers the topics that changed. Subscribers re-fetch
 * what changed through the read API; an event carries no data of its own, so
 * a missed or coalesced event costs one re-fetch, never a wrong view.
 *
 * Contract: the timer runs only while someone subscribes; fingerprints are
 * computed once per tick whatever the number of subscribers; `stats` fires
 * every `statsEveryMs` (the stats window moves even when nothing else does).
 * A subscriber that throws is dropped, the others still hear the change.
 */

export const FEED_TOPICS = ['services', 'agents', 'config', 'stats'] as const;
export type FeedTopic = (typeof FEED_TOPICS)[number];

/** Opaque fingerprints: a topic changed when its string differs from the previous tick's. */
export interface FeedSources {
  services(): string;
  agents(): string;
  config(): string;
}

export interface ChangeFeedOptions {
  /** How often fingerprints are compared; default 1 s. */
  pollMs?: number;
  /** How often `stats` fires; default 10 s (the stats resolution). */
  statsEveryMs?: number;
}

export type FeedListener = (topics: FeedTopic[]) => void;

export class ChangeFeed {
  private readonly listeners = new Set<FeedListener>();
  private readonly last = new Map<FeedTopic, string>();
  private timer: NodeJS.Timeout | undefined;
  private ticksSinceStats = 0;
  private readonly pollMs: number;
  private readonly statsEvery: number;

  constructor(
    private readonly sources: FeedSources,
    opts: ChangeFeedOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 1000;
    this.statsEvery = Math.max(1, Math.round((opts.statsEveryMs ?? 10_000) / this.pollMs));
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /** Returns the unsubscribe function. The first subscriber starts the timer, the last one out stops it. */
  subscribe(listener: FeedListener): () => void {
    this.listeners.add(listener);
    if (!this.timer) {
      this.snapshot();
      this.ticksSinceStats = 0;
      this.timer = setInterval(() => this.tick(), this.pollMs);
      this.timer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** Drops every subscriber and stops the timer (control-plane shutdown). */
  close(): void {
    this.listeners.clear();
    this.stop();
  }

  /** One comparison round; public so tests can drive it without waiting. */
  tick(): void {
    const changed: FeedTopic[] = [];
    for (const [topic, value] of this.fingerprints()) {
      if (this.last.get(topic) !== value) changed.push(topic);
      this.last.set(topic, value);
    }
    if (++this.ticksSinceStats >= this.statsEvery) {
      this.ticksSinceStats = 0;
      changed.push('stats');
    }
    if (changed.length === 0) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(changed);
      } catch {
        this.listeners.delete(listener);
      }
    }
  }

  private snapshot(): void {
    for (const [topic, value] of this.fingerprints()) this.last.set(topic, value);
  }

  private fingerprints(): [FeedTopic, string][] {
    return [
      ['services', this.sources.services()],
      ['agents', this.sources.agents()],
      ['config', this.sources.config()],
    ];
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
