/**
 * Static stability (DESIGN.md): the agent persists the config it last
 * accepted in `<dataDir>/config-snapshot.json` and seeds the ConfigView from
 * it at start, so it can route when the control plane is unreachable. The
 * file holds resources in their wire form and is loaded through the same
 * validation as the stream, so a damaged file cannot inject bad endpoints.
 * With a policy store it also holds the accepted traffic policies
 * (`policy/<svc>` resources, re-validated and re-compiled on load), so an
 * agent restarted while the control plane is down keeps its routing.
 */
import { join } from 'node:path';
import { endpointsResourceName, endpointToProto, isObject, type Logger, messageOf } from '@weft/shared';
import type { Resource__Output } from '@weft/shared/generated/weft/v1/Resource';
import type { ResourceError } from '@weft/shared/generated/weft/v1/ResourceError';
import type { ServiceSnapshot } from '../contracts.js';
import { CoalescingWriter, readFileIfExists } from './atomic-file.js';
import type { ConfigView } from './config-view.js';
import { decodeResource } from './resource-decode.js';

export const SNAPSHOT_FILE = 'config-snapshot.json';

/** The accepted traffic policies (agent/src/policy/policy-view.ts), in wire form. */
export interface PersistedPolicies {
  owns(name: string): boolean;
  /** Every policy resource held, as received. */
  resources(): Resource__Output[];
  /** Same contract as on the stream: validates, compiles, returns what it rejected. */
  apply(resources: readonly Resource__Output[], removed: readonly string[], notFound: readonly string[]): ResourceError[];
}

export class SnapshotStore {
  private readonly file: string;
  private readonly writer: CoalescingWriter;

  constructor(
    dataDir: string,
    private readonly view: ConfigView,
    private readonly logger: Logger,
    private readonly policies?: PersistedPolicies,
  ) {
    this.file = join(dataDir, SNAPSHOT_FILE);
    this.writer = new CoalescingWriter(
      this.file,
      () => this.serialize(),
      (err) => this.logger.warn('could not persist config snapshot', { file: this.file, error: messageOf(err) }),
    );
  }

  /**
   * Reads the persisted snapshots; a missing or unreadable file yields none.
   * Persisted policies go straight into the policy store (when there is one).
   */
  async load(): Promise<ServiceSnapshot[]> {
    let text: string | undefined;
    try {
      text = await readFileIfExists(this.file);
      if (text === undefined) return [];
      const raw: unknown = JSON.parse(text);
      const resources = isObject(raw) && Array.isArray(raw.resources) ? raw.resources : [];
      const out: ServiceSnapshot[] = [];
      const policies: Resource__Output[] = [];
      for (const r of resources) {
        if (isObject(r) && typeof r.name === 'string' && this.policies?.owns(r.name)) {
          policies.push(r as unknown as Resource__Output);
          continue;
        }
        const decoded = isObject(r) ? decodeResource(r as unknown as Resource__Output) : undefined;
        if (decoded?.ok) out.push(decoded.snapshot);
        else this.logger.warn('skipping invalid entry in config snapshot', { file: this.file, error: decoded?.message });
      }
      if (this.policies && policies.length > 0) {
        for (const e of this.policies.apply(policies, [], []))
          this.logger.warn('skipping invalid policy in config snapshot', { file: this.file, name: e.name, error: e.message });
      }
      return out;
    } catch (err) {
      this.logger.warn('ignoring unreadable config snapshot', { file: this.file, error: messageOf(err) });
      return [];
    }
  }

  /** Persists the view after every change from now on. */
  follow(): void {
    this.view.onChange(() => void this.writer.save());
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  private serialize(): string {
    const resources = this.view.snapshots().map((s) => ({
      name: endpointsResourceName(s.service),
      version: s.version,
      body: 'endpoints',
      endpoints: { service: s.service, endpoints: s.endpoints.map(endpointToProto) },
    })) as unknown[];
    if (this.policies) resources.push(...this.policies.resources());
    return `${JSON.stringify({ version: 1, savedAt: new Date().toISOString(), resources })}\n`;
  }
}
