/**
 * The agent's local upstream ports (`weft upstream add postgres --local-port
 * 5433`): which TCP service a local port on 127.0.0.1 leads to. Persisted
 * in `<dataDir>/upstreams.json` like the registrations, and reopened when
 * the agent starts. The ports themselves are the proxy's
 * (proxy/tcp-local-upstreams.ts); this is the admin side: validation,
 * persistence, and the admin API routes
 *
 *   GET    /v1/upstreams            the configured upstreams and their ports
 *   POST   /v1/upstreams            {"service": "postgres", "localPort": 5433} -> 201
 *   DELETE /v1/upstreams/{service}  200, or 404
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { type Logger, messageOf, ValidationError, validatePort, validateServiceName } from '@weft/shared';
import { readFileIfExists, writeFileAtomic } from '../discovery/atomic-file.js';
import { BodyTooLargeError, MAX_BODY_BYTES, readBody, sendError, sendJson } from './http-json.js';

export const UPSTREAMS_FILE = 'upstreams.json';

export interface UpstreamSpec {
  service: string;
  localPort: number;
}

/** What the proxy's local upstream ports offer (proxy/tcp-local-upstreams.ts LocalUpstreamPorts). */
export interface UpstreamPorts {
  open(u: UpstreamSpec): Promise<number>;
  close(service: string): Promise<boolean>;
}

export function parseUpstreamSpec(raw: unknown): UpstreamSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ValidationError('', 'must be a JSON object');
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) if (key !== 'service' && key !== 'localPort') throw new ValidationError(key, 'unknown field');
  return { service: validateServiceName(o.service, 'service'), localPort: validatePort(o.localPort, 'localPort') };
}

export class LocalUpstreams {
  private readonly specs = new Map<string, UpstreamSpec>();
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dataDir: string,
    private readonly ports: UpstreamPorts,
    private readonly logger: Logger,
  ) {}

  list(): UpstreamSpec[] {
    return [...this.specs.values()].sort((a, b) => a.service.localeCompare(b.service));
  }

  /** Reopens the persisted upstreams; one that cannot be opened (its port taken) is logged and kept for the next start. */
  async restore(): Promise<void> {
    const file = join(this.dataDir, UPSTREAMS_FILE);
    let text: string | undefined;
    try {
      text = await readFileIfExists(file);
    } catch (err) {
      this.logger.error('could not read local upstreams', { file, error: messageOf(err) });
      return;
    }
    if (text === undefined) return;
    let list: unknown[] = [];
    try {
      const raw = JSON.parse(text) as { upstreams?: unknown };
      if (Array.isArray(raw.upstreams)) list = raw.upstreams;
    } catch (err) {
      this.logger.error('ignoring unreadable local upstreams file', { file, error: messageOf(err) });
      return;
    }
    for (const item of list) {
      try {
        const spec = parseUpstreamSpec(item);
        this.specs.set(spec.service, spec);
        await this.ports.open(spec);
      } catch (err) {
        this.logger.warn('local upstream not opened', { file, upstream: item, error: messageOf(err) });
      }
    }
  }

  /** Opens the port and persists the upstream; a port that cannot be bound is a ValidationError on localPort. */
  async add(spec: UpstreamSpec): Promise<UpstreamSpec> {
    for (const other of this.specs.values()) {
      if (other.localPort === spec.localPort && other.service !== spec.service) {
        throw new ValidationError('localPort', `${spec.localPort} is already the local port of upstream ${other.service}`);
      }
    }
    try {
      await this.ports.open(spec);
    } catch (err) {
      throw new ValidationError(
        'localPort',
        `cannot listen on 127.0.0.1:${spec.localPort} (${(err as { code?: string }).code ?? messageOf(err)})`,
      );
    }
    this.specs.set(spec.service, spec);
    await this.persist();
    return spec;
  }

  async remove(service: string): Promise<boolean> {
    const had = this.specs.delete(service);
    await this.ports.close(service);
    if (had) await this.persist();
    return had;
  }

  private persist(): Promise<void> {
    const text = `${JSON.stringify({ upstreams: this.list() }, null, 2)}\n`;
    this.writing = this.writing.then(() => writeFileAtomic(join(this.dataDir, UPSTREAMS_FILE), text));
    return this.writing;
  }
}

/** The admin API's upstream routes. */
export const upstreamHandlers = {
  list(u: LocalUpstreams, agentId: string, res: ServerResponse): void {
    sendJson(res, 200, { agentId, upstreams: u.list() });
  },

  async add(u: LocalUpstreams, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse((await readBody(req)).toString('utf8'));
    } catch (err) {
      if (err instanceof BodyTooLargeError)
        sendError(res, 413, 'payload_too_large', err.message, { field: '', limitBytes: MAX_BODY_BYTES });
      else sendError(res, 400, 'invalid_argument', `body: invalid JSON (${messageOf(err)})`, { field: '' });
      return;
    }
    try {
      sendJson(res, 201, await u.add(parseUpstreamSpec(raw)));
    } catch (err) {
      if (err instanceof ValidationError) sendError(res, 400, 'invalid_argument', err.message, { field: err.field });
      else throw err;
    }
  },

  async remove(u: LocalUpstreams, service: string, res: ServerResponse): Promise<void> {
    if (await u.remove(service)) sendJson(res, 200, { service, removed: true });
    else sendError(res, 404, 'not_found', `no upstream for service "${service}" on this agent`);
  },
};
