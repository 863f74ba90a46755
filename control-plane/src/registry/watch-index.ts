/**
 * Who watches which service. A change notifies only the watchers of the
 * services it changed, so its cost is the size of what changed, not of the
 * mesh.
 *
 * Two ways in: `add`/`remove` of a Watcher object (what a discovery stream's
 * subscription is, so 20,000 subscriptions hold no closures), and `watch`
 * with a callback that returns its cancel function (go-control-plane style,
 * for the few callers that hold a function).
 */
export type WatchCallback = (service: string) => void;

/** Told after every committed change to what it watches. It must only record the change and schedule its own work: it must not block or throw. */
export interface Watcher {
  changed(key: string): void;
}

/** A source whose keys can be watched (the registry's services, policies, external hosts, trust resources). */
export interface Watchable {
  addWatcher(key: string, watcher: Watcher): void;
  removeWatcher(key: string, watcher: Watcher): void;
}

export class WatchIndex implements Watchable {
  private readonly byKey = new Map<string, Set<Watcher>>();

  addWatcher(key: string, watcher: Watcher): void {
    let set = this.byKey.get(key);
    if (!set) {
      set = new Set();
      this.byKey.set(key, set);
    }
    set.add(watcher);
  }

  removeWatcher(key: string, watcher: Watcher): void {
    const set = this.byKey.get(key);
    if (!set) return;
    set.delete(watcher);
    if (set.size === 0) this.byKey.delete(key);
  }

  /** Calls `onChange` after every committed change to `key` until cancelled. */
  watch(key: string, onChange: WatchCallback): () => void {
    const watcher: Watcher = { changed: onChange };
    this.addWatcher(key, watcher);
    return () => this.removeWatcher(key, watcher);
  }

  /** Notifies the watchers of each key. */
  notify(keys: Iterable<string>): void {
    for (const key of keys) {
      const set = this.byKey.get(key);
      if (!set) continue;
      for (const w of [...set]) w.changed(key);
    }
  }

  watcherCount(key: string): number {
    return this.byKey.get(key)?.size ?? 0;
  }
}
