/**
 * One simulated agent: a real Discovery stream that behaves like the agent's
 * discovery client (agent/src/discovery/discovery-client.ts) as far as the
 * control plane can tell:
 * - first request carries `agent`, every subscription and `initial_versions`
 *   (what it holds, empty on the very first connect);
 * - every response is answered once with an ACK (`response_nonce`);
 * - a broken stream is reopened after waitForReady with full-jitter backoff
 *   (200 ms .. 5 s, reset on the first response), like the real agent.
 * What it receives is reported to a `sink` before the held versions change,
 * so the sink can compare against what the agent held.
 */
import { grpc } from './proto.mjs';

class Backoff {
  constructor(baseMs, maxMs) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.attempt = 0;
  }
  next() {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.max(this.baseMs / 4, Math.floor(Math.random() * ceiling));
  }
  reset() {
    this.attempt = 0;
  }
}

export class SimAgent {
  /**
   * @param {object} o
   * @param {number} o.idx
   * @param {object} o.info           AgentInfo (proto field names)
   * @param {string[]} o.subscriptions resource names
   * @param {number} o.replica        index of the control-plane replica it connects to first
   * @param {number} o.replicas       how many replicas there are
   * @param {(replica: number) => object} o.clientFor  the Discovery client (channel) this agent uses for a replica
   * @param {object} o.sink           { response(agent, res, t), synced(agent, t), streamEnded(agent, status) }
   */
  constructor(o) {
    this.idx = o.idx;
    this.info = o.info;
    this.subscriptions = o.subscriptions;
    this.replica = o.replica;
    this.replicas = o.replicas;
    this.clientFor = o.clientFor;
    this.sink = o.sink;
    /** name -> version held (acknowledged). */
    this.held = new Map();
    this.notFound = new Set();
    this.gen = 0;
    this.call = null;
    this.timer = null;
    this.closed = false;
    this.answered = false;
    this.synced = false;
    this.streamsOpened = 0;
    this.attempts = 0;
    this.backoff = new Backoff(200, 5_000);
  }

  start() {
    this.attempt();
  }

  attempt() {
    if (this.closed) return;
    const gen = ++this.gen;
    this.attempts++;
    this.clientFor(this.replica).waitForReady(Date.now() + 5_000, (err) => {
      if (gen !== this.gen || this.closed) return;
      if (err) this.failed(gen, { code: grpc.status.UNAVAILABLE, details: err.message });
      else this.open(gen);
    });
  }

  open(gen) {
    const call = this.clientFor(this.replica).Stream();
    this.call = call;
    this.answered = false;
    this.synced = false;
    this.streamsOpened++;
    call.on('data', (res) => {
      if (gen === this.gen && !this.closed) this.onResponse(res);
    });
    call.on('error', () => {});
    call.on('status', (status) => {
      if (gen === this.gen && !this.closed) this.failed(gen, status);
    });
    call.write({
      agent: this.info,
      subscribe: this.subscriptions,
      initial_versions: Object.fromEntries(this.held),
    });
  }

  onResponse(res) {
    const t = performance.now();
    this.backoff.reset();
    this.sink.response(this, res, t);
    for (const r of res.resources) {
      this.held.set(r.name, r.version);
      this.notFound.delete(r.name);
    }
    for (const name of res.removed) this.held.delete(name);
    for (const name of res.not_found) this.notFound.add(name);
    this.call.write({ response_nonce: res.nonce });
    this.answered = true;
    if (!this.synced && this.subscriptions.every((n) => this.held.has(n) || this.notFound.has(n))) {
      this.synced = true;
      this.sink.synced(this, t);
    }
  }

  failed(gen, status) {
    if (gen !== this.gen) return;
    this.gen++;
    const call = this.call;
    this.call = null;
    call?.cancel();
    this.synced = false;
    this.sink.streamEnded(this, status);
    // Several replicas: like the real agent, try another one (the next in this agent's list) after the backoff.
    if (this.replicas > 1) this.replica = (this.replica + 1) % this.replicas;
    this.timer = setTimeout(() => this.attempt(), this.backoff.next());
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    const call = this.call;
    this.call = null;
    if (call) {
      call.end();
      call.cancel();
    }
  }
}
