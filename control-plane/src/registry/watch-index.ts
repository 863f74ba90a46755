/**
 * Who watches which service. A change notifies only the watchers of the
 * services it changed, so its cost is the size of what changed, not of the
 * mesh. Creating a watch returns its cancel function (go-control-plane style).
 */
export type WatchCallback = (service: string) => void;

export class WatchIndex {
  private readonly byService = new Map<string, Set<WatchCallback>>();

  /** Calls `onChange` after every committed change to `service` until cancelled. */
  watch(service: string, onChange: WatchCallback): () => void {
    let set = this.byService.get(service);
    if (!set) {
      set = new Set();
      this.byService.set(service, set);
    }
    set.add(onChange);
    return () => {
      const current = this.byService.get(service);
      if (!current) return;
      current.delete(onChange);
      if (current.size === 0) this.byService.delete(service);
    };
  }

  /**
   * Notifies the watchers of each service. A watcher must only record the
   * change and schedule its own work: it must not block or throw.
   */
  notify(services: Iterable<string>): void {
    for (const service of services) {
      const set = this.byService.get(service);
      if (!set) continue;
      for (const cb of [...set]) cb(service);
    }
  }

  watcherCount(service: string): number {
    return this.byService.get(service)?.size ?? 0;
  }
}
