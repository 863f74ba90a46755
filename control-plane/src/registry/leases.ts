/**
 * Session leases of agents. An agent with an open discovery stream holds its
 * lease; when its last stream closes, the lease runs for the TTL and then
 * lapses. Pure bookkeeping: the registry removes lapsed agents.
 */
interface Lease {
  streams: number;
  /** Null while at least one stream is open. */
  expiresAtMs: number | null;
  /** When its last stream closed; null while connected, or when it was last seen before this process started. */
  disconnectedAtMs: number | null;
}

export class LeaseTable {
  private readonly leases = new Map<string, Lease>();

  /** Extends a disconnected agent's lease to at least `expiresAtMs`; no effect while connected. */
  grant(agentId: string, expiresAtMs: number): void {
    const lease = this.leases.get(agentId);
    if (!lease) this.leases.set(agentId, { streams: 0, expiresAtMs, disconnectedAtMs: null });
    else if (lease.streams === 0) lease.expiresAtMs = Math.max(lease.expiresAtMs ?? 0, expiresAtMs);
  }

  streamOpened(agentId: string): void {
    const lease = this.leases.get(agentId);
    if (!lease) this.leases.set(agentId, { streams: 1, expiresAtMs: null, disconnectedAtMs: null });
    else {
      lease.streams++;
      lease.expiresAtMs = null;
      lease.disconnectedAtMs = null;
    }
  }

  /** Returns the new expiry when this was the agent's last stream, else null. */
  streamClosed(agentId: string, expiresAtMs: number, nowMs: number = Date.now()): number | null {
    const lease = this.leases.get(agentId);
    if (!lease) return null;
    lease.streams = Math.max(0, lease.streams - 1);
    if (lease.streams > 0) return null;
    lease.expiresAtMs = expiresAtMs;
    lease.disconnectedAtMs = nowMs;
    return expiresAtMs;
  }

  /** When the agent's last stream closed; null while connected or when not known (see Lease). */
  disconnectedAt(agentId: string): number | null {
    return this.leases.get(agentId)?.disconnectedAtMs ?? null;
  }

  isConnected(agentId: string): boolean {
    return (this.leases.get(agentId)?.streams ?? 0) > 0;
  }

  /** Null while connected or when unknown. */
  expiresAt(agentId: string): number | null {
    return this.leases.get(agentId)?.expiresAtMs ?? null;
  }

  /** Agents with no open stream whose lease ended at or before `nowMs`. */
  expired(nowMs: number): string[] {
    const out: string[] = [];
    for (const [agentId, lease] of this.leases) {
      if (lease.streams === 0 && lease.expiresAtMs !== null && lease.expiresAtMs <= nowMs) out.push(agentId);
    }
    return out;
  }

  /** Agents with at least one open stream here. */
  connected(): string[] {
    const out: string[] = [];
    for (const [agentId, lease] of this.leases) if (lease.streams > 0) out.push(agentId);
    return out;
  }

  forget(agentId: string): void {
    this.leases.delete(agentId);
  }
}
