/**
 * Static stability (DESIGN.md): the agent persists the config it last
 * accepted in `<dataDir>/config-snapshot.json` and seeds the ConfigView from
 * it at start, so it can route when the control plane is unreachable. The
 * file holds resources in their wire form and is loaded through the same
 * validation as the stream, so a damaged file cannot inject bad endpoints.
 */
import { join } from 'node:path';
import { endpointsResourceName, endpointToProto, isObject, type Logger, messageOf } from '@weft/shared';
import type { Resource__Output } from '@weft/shared/generated/weft/v1/Resource';
import type { ServiceSnapshot } from '../contracts.js';
import { CoalescingWriter, readFileIfExists } from './atomic-file.js';
import type { ConfigView } from './config-view.js';
import { decodeResource } from './resource-decode.js';

export const SNAPSHOT_FILE = 'config-snapshot.json';

export class SnapshotStore {
  private readonly file: string;
  private readonly writer: CoalescingWriter;

  constructor(
    dataDir: string,
    private readonly view: ConfigView,
    private readonly logger: Logger,
  ) {
    this.file = join(dataDir, SNAPSHOT_FILE);
    this.writer = new CoalescingWriter(
      this.file,
      () => this.serialize(),
      (err) => this.logger.warn('could not persist config snapshot', { file: this.file, error: messageOf(err) }),
    );
  }

  /** Reads the persisted snapshots; a missing or unreadable file yields none. */
  async load(): Promise<ServiceSnapshot[]> {
    let text: string | undefined;
    try {
      text = await readFileIfExists(this.file);
      if (text === undefined) return [];
      const raw: unknown = JSON.parse(text);
      const resources = isObject(raw) && Array.isArray(raw.resources) ? raw.resources : [];
      const out: ServiceSnapshot[] = [];
      for (const r of resources) {
        const decoded = isObject(r) ? decodeResource(r as unknown as Resource__Output) : undefined;
        if (decoded?.ok) out.push(decoded.snapshot);
        else this.logger.warn('skipping invalid entry in config snapshot', { file: this.file, error: decoded?.message });
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
    }));
    return `${JSON.stringify({ version: 1, savedAt: new Date().toISOString(), resources })}\n`;
  }
}
