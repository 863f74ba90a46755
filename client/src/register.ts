/**
 * One-line registration for Node services: `await register({ name: 'orders', port })`.
 * Registers the service with the local Weft agent's admin API and deregisters it
 * when the process receives SIGTERM or SIGINT (then lets the signal end the
 * process as it would have without us).
 */

export interface HealthCheckOption {
  /** HTTP path the agent GETs, e.g. "/healthz". */
  http?: string;
  /** Plain TCP connect check. */
  tcp?: true;
  /** e.g. "5s" */
  interval?: string;
  timeout?: string;
}

export interface RegisterOptions {
  name: string;
  port: number;
  health?: HealthCheckOption;
  id?: string;
  address?: string;
  tags?: string[];
  metadata?: Record<string, string>;
  zone?: string;
  weight?: number;
  /** What the instance speaks: 'http' (default), 'http2', 'grpc' or 'tcp'. */
  protocol?: 'http' | 'http2' | 'grpc' | 'tcp';
  /**
   * Admin API of the local agent; default $WEFT_AGENT or http://127.0.0.1:15000.
   * Its host must be `localhost`, `127.x.x.x` or `[::1]`: the agent refuses other Host names (403).
   */
  agent?: string;
  /** Keep retrying while the agent is not reachable yet (it may start after us); default 30 s. */
  retryForMs?: number;
  /** Deregister on SIGTERM/SIGINT (default true). */
  deregisterOnSignal?: boolean;
}

export interface Registration {
  readonly id: string;
  /** Whether the agent had the control plane's acknowledgement when it answered. */
  readonly synced: boolean;
  /**
   * The app's proxy credential (a new one on each registration; the old one
   * stops working), or undefined from an --insecure agent.
   */
  readonly credential: string | undefined;
  /**
   * The proxy URL with the credential, `http://<name>:<secret>@127.0.0.1:<outbound port>`:
   * use it as HTTP_PROXY (or a client's proxy option) so calls carry this
   * service's identity. Undefined from an --insecure agent.
   */
  readonly proxyUrl: string | undefined;
  deregister(): Promise<void>;
}

/** Raised when the agent rejects the registration (the message names the field). */
export class RegistrationError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'RegistrationError';
  }
}

const DEFAULT_AGENT = 'http://127.0.0.1:15000';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function agentUrl(agent: string | undefined): string {
  const base = agent ?? process.env.WEFT_AGENT ?? DEFAULT_AGENT;
  return (base.includes('://') ? base : `http://${base}`).replace(/\/+$/, '');
}

export async function register(options: RegisterOptions): Promise<Registration> {
  const base = agentUrl(options.agent);
  const { agent: _a, retryForMs: _r, deregisterOnSignal: _d, ...body } = options;
  const deadline = Date.now() + (options.retryForMs ?? 30_000);
  let delay = 100;
  for (;;) {
    let res: Response;
    try {
      res = await fetch(`${base}/v1/services`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (err) {
      if (Date.now() + delay > deadline) throw new Error(`cannot reach the Weft agent at ${base}: ${(err as Error).message}`);
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
      continue;
    }
    const answer = (await res.json().catch(() => ({}))) as {
      id?: string;
      synced?: boolean;
      credential?: string;
      proxyUrl?: string;
      message?: string;
      field?: string;
    };
    if (res.status !== 201 || !answer.id) {
      throw new RegistrationError(answer.message ?? `agent answered ${res.status}`, res.status, answer.field);
    }
    const id = answer.id;
    let done = false;
    const deregister = async () => {
      if (done) return;
      done = true;
      await fetch(`${base}/v1/services/${encodeURIComponent(id)}`, { method: 'DELETE', signal: AbortSignal.timeout(2000) }).catch(() => {});
    };
    if (options.deregisterOnSignal !== false) deregisterOnSignals(deregister);
    return {
      id,
      synced: answer.synced === true,
      credential: typeof answer.credential === 'string' ? answer.credential : undefined,
      proxyUrl: typeof answer.proxyUrl === 'string' ? answer.proxyUrl : undefined,
      deregister,
    };
  }
}

function deregisterOnSignals(deregister: () => Promise<void>): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const onSignal = () => {
      process.removeListener(signal, onSignal);
      void deregister().finally(() => {
        // If nobody else handles the signal, end the process the way the signal would have.
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
    };
    process.on(signal, onSignal);
  }
}
