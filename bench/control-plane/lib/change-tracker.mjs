/**
 * Propagation bookkeeping for the churn phase, all on one clock
 * (performance.now() of the load process).
 *
 * A change sets one field of one endpoint to a value it does not have
 * (health flip, or a new weight). It is delivered to a subscribed agent when
 * that agent first receives the service's resource showing that value. Because
 * the same endpoint is not changed again while an earlier change to it is still
 * being delivered (`busy`), a value match is unambiguous, and coalescing by the
 * control plane (rule 6: latest version wins) still counts as delivery.
 *
 * Latency = receive time - time the Register/SetHealth call was acknowledged.
 * A push can be read before the unary reply (separate connections); such
 * deliveries are counted in `beforeAck` and their latency clamps to 0.
 * `fromSend` (receive - time the call was sent) is the upper bound that
 * includes the write itself.
 */
import { percentile } from './stats.mjs';

export class ChangeTracker {
  constructor() {
    /** service -> Set<change> still being delivered */
    this.active = new Map();
    /** instanceId -> change */
    this.busy = new Map();
    this.changes = [];
    this.failedCalls = 0;
    this.failures = new Map();
  }

  /** Registers a change before its call is sent; `expected` = indices of the agents subscribed to the service. */
  begin({ kind, service, instanceId, field, target, expected }) {
    const change = {
      kind,
      service,
      instanceId,
      field,
      target,
      sentAt: performance.now(),
      ackAt: null,
      pending: new Set(expected),
      expected: expected.length,
      receivedAt: [],
      receivedBy: [],
      failed: false,
    };
    this.changes.push(change);
    if (!this.active.has(service)) this.active.set(service, new Set());
    this.active.get(service).add(change);
    this.busy.set(instanceId, change);
    this.settleIfDone(change);
    return change;
  }

  acked(change) {
    change.ackAt = performance.now();
  }

  /** The call failed: the control plane's state is unknown, so the change is dropped and the endpoint retired. */
  failed(change, err) {
    change.failed = true;
    this.failedCalls++;
    const key = err?.code !== undefined ? `code ${err.code}: ${String(err.details ?? err.message).slice(0, 120)}` : String(err);
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
    this.active.get(change.service)?.delete(change);
  }

  /** Called for every resource an agent receives. */
  onResource(agentIdx, resource, t) {
    const set = this.active.get(resource.name.slice(resource.name.indexOf('/') + 1));
    if (!set || set.size === 0) return;
    const endpoints = resource.endpoints;
    for (const change of set) {
      if (!change.pending.has(agentIdx)) continue;
      // lazy-response.mjs: reads the one endpoint asked for.
      const ep = endpoints?.find(change.instanceId);
      if (ep && ep[change.field] === change.target) {
        change.pending.delete(agentIdx);
        change.receivedAt.push(t);
        change.receivedBy.push(agentIdx);
        this.settleIfDone(change);
      }
    }
  }

  settleIfDone(change) {
    if (change.pending.size > 0) return;
    this.active.get(change.service)?.delete(change);
    if (this.busy.get(change.instanceId) === change) this.busy.delete(change.instanceId);
  }

  isBusy(instanceId) {
    return this.busy.has(instanceId);
  }

  outstanding() {
    let n = 0;
    for (const set of this.active.values()) for (const c of set) n += c.pending.size;
    return n;
  }

  /**
   * Final figures; undelivered expectations of acknowledged changes count as missed.
   * `groupOf(agentIdx)` (optional) splits the latencies by group (the replica an agent is connected to).
   */
  result(groupOf = () => 0) {
    const byGroup = {};
    const latencies = [];
    const fromSend = [];
    const t0 = this.changes[0]?.sentAt ?? 0;
    const buckets = [];
    let expected = 0;
    let delivered = 0;
    let beforeAck = 0;
    let acked = 0;
    const byKind = {};
    for (const c of this.changes) {
      if (c.failed || c.ackAt === null) continue;
      acked++;
      byKind[c.kind] = (byKind[c.kind] ?? 0) + 1;
      expected += c.expected;
      delivered += c.receivedAt.length;
      c.receivedAt.forEach((t, k) => {
        const l = t - c.ackAt;
        const g = groupOf(c.receivedBy[k]);
        if (!byGroup[g]) byGroup[g] = [];
        byGroup[g].push(Math.max(0, l));
        if (l < 0) beforeAck++;
        latencies.push(Math.max(0, l));
        fromSend.push(t - c.sentAt);
        const b = Math.floor((c.sentAt - t0) / 1000);
        if (!buckets[b]) buckets[b] = [];
        buckets[b].push(Math.max(0, l));
      });
    }
    return {
      issued: this.changes.length,
      acked,
      byKind,
      failedCalls: this.failedCalls,
      failures: Object.fromEntries(this.failures),
      expected,
      delivered,
      missed: expected - delivered,
      beforeAck,
      latencies,
      byGroup,
      fromSend,
      perSecond: Array.from(buckets, (v) => (v ? percentile(v, 99) : null)),
    };
  }
}
