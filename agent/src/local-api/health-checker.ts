/**
 * Active health checks of the instances on this host. One loop per watched
 * instance: the first probe runs at once, the next one `intervalMs` after the
 * previous finished (so probes never overlap). Thresholds debounce flapping:
 * `failuresToCritical` consecutive failures make an instance critical,
 * `successesToPassing` successes make it passing again. HTTP 429 means
 * "alive but shedding load" and reports warning.
 *
 * Only status changes are reported (onChange); the checker never does
 * control-plane I/O itself.
 */
import http from 'node:http';
import net from 'node:net';
import { type Health, type HealthCheckSpec, type Logger, messageOf } from '@weft/shared';

export type HealthListener = (instanceId: string, health: Health, output: string) => void;

export interface HealthCheckerOptions {
  logger: Logger;
  onChange: HealthListener;
  failuresToCritical?: number;
  successesToPassing?: number;
}

export interface CheckTarget {
  address: string;
  port: number;
}

type ProbeResult = { outcome: 'success' | 'warning' | 'failure'; output: string };

interface Watch {
  readonly target: CheckTarget;
  readonly spec: HealthCheckSpec;
  status: Health;
  failures: number;
  successes: number;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
  abort: AbortController;
}

export class HealthChecker {
  private readonly watches = new Map<string, Watch>();
  private readonly failuresToCritical: number;
  private readonly successesToPassing: number;

  constructor(private readonly options: HealthCheckerOptions) {
    this.failuresToCritical = options.failuresToCritical ?? 2;
    this.successesToPassing = options.successesToPassing ?? 1;
  }

  /** Starts (or restarts, with fresh counters) checking an instance; its status starts as 'unknown'. */
  watch(instanceId: string, target: CheckTarget, spec: HealthCheckSpec): void {
    this.unwatch(instanceId);
    const w: Watch = {
      target,
      spec,
      status: 'unknown',
      failures: 0,
      successes: 0,
      timer: undefined,
      stopped: false,
      abort: new AbortController(),
    };
    this.watches.set(instanceId, w);
    void this.run(instanceId, w);
  }

  unwatch(instanceId: string): void {
    const w = this.watches.get(instanceId);
    if (!w) return;
    this.watches.delete(instanceId);
    w.stopped = true;
    clearTimeout(w.timer);
    w.abort.abort();
  }

  status(instanceId: string): Health | undefined {
    return this.watches.get(instanceId)?.status;
  }

  close(): void {
    for (const id of [...this.watches.keys()]) this.unwatch(id);
  }

  private async run(instanceId: string, w: Watch): Promise<void> {
    if (w.stopped) return;
    const result = await probe(w.target, w.spec, w.abort.signal);
    if (w.stopped) return;
    const next = this.nextStatus(w, result);
    if (next !== w.status) {
      const previous = w.status;
      w.status = next;
      this.options.logger.info('health changed', { instanceId, from: previous, to: next, output: result.output });
      try {
        this.options.onChange(instanceId, next, result.output);
      } catch (err) {
        this.options.logger.error('health listener failed', { instanceId, error: messageOf(err) });
      }
    }
    if (w.stopped) return;
    w.timer = setTimeout(() => void this.run(instanceId, w), w.spec.intervalMs);
    w.timer.unref();
  }

  private nextStatus(w: Watch, r: ProbeResult): Health {
    if (r.outcome === 'failure') {
      w.successes = 0;
      w.failures++;
      return w.failures >= this.failuresToCritical ? 'critical' : w.status;
    }
    w.failures = 0;
    if (r.outcome === 'warning') {
      w.successes = 0;
      return 'warning';
    }
    w.successes++;
    return w.successes >= this.successesToPassing ? 'passing' : w.status;
  }
}

function probe(target: CheckTarget, spec: HealthCheckSpec, signal: AbortSignal): Promise<ProbeResult> {
  return spec.kind === 'http' ? probeHttp(target, spec.path, spec.timeoutMs, signal) : probeTcp(target, spec.timeoutMs, signal);
}

function hostForUrl(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

function probeHttp(target: CheckTarget, path: string, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult> {
  const url = `http://${hostForUrl(target.address)}:${target.port}${path}`;
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = http.request(
      {
        host: target.address,
        port: target.port,
        path,
        method: 'GET',
        agent: false,
        signal,
        headers: { 'user-agent': 'weft-health-check' },
      },
      (res) => {
        const code = res.statusCode ?? 0;
        res.resume();
        const output = `GET ${url}: HTTP ${code}`;
        if (code >= 200 && code < 400) finish({ outcome: 'success', output });
        else if (code === 429) finish({ outcome: 'warning', output });
        else finish({ outcome: 'failure', output });
      },
    );
    const timer = setTimeout(() => finish({ outcome: 'failure', output: `GET ${url}: timed out after ${timeoutMs}ms` }), timeoutMs);
    req.on('error', (err) => finish({ outcome: 'failure', output: `GET ${url}: ${messageOf(err)}` }));
    req.end();
  });
}

/** One TCP connect to the target (also the registration-time "is anything listening" probe). */
export function probeTcp(target: CheckTarget, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult> {
  const where = `${hostForUrl(target.address)}:${target.port}`;
  return new Promise((resolve) => {
    let done = false;
    const socket = net.connect({ host: target.address, port: target.port, signal });
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ outcome: 'failure', output: `TCP ${where}: timed out after ${timeoutMs}ms` }), timeoutMs);
    socket.once('connect', () => finish({ outcome: 'success', output: `TCP ${where}: connected` }));
    socket.once('error', (err) => finish({ outcome: 'failure', output: `TCP ${where}: ${messageOf(err)}` }));
  });
}
