/**
 * The proxy credentials of local apps (docs/security.md, "Local apps"): a
 * registration of an instance of service `web` gets a secret, and the app
 * calls through the outbound listener as `http://web:<secret>@127.0.0.1:15001`
 * (standard proxy authentication, `Proxy-Authorization: Basic`). The
 * outbound agent then presents service web's certificate on the mesh hop.
 *
 * Contract:
 * - One secret per registered instance (32 random bytes, base64url); a
 *   service's apps may use any of its instances' secrets. Registering the
 *   same instance id again makes a new secret (the old one stops working);
 *   deregistering drops it.
 * - Only SHA-256 hashes are kept, in memory and in `<data-dir>/credentials.json`
 *   (0600), so a restarted agent still knows the credentials its apps hold;
 *   a hash whose instance is no longer registered is dropped at load.
 * - verify() compares hashes in constant time and never throws.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { type Logger, messageOf } from '@weft/shared';
import { CoalescingWriter, readFileIfExists } from '../discovery/atomic-file.js';
import type { CredentialCheck } from '../proxy/proxy-auth.js';

export const CREDENTIALS_FILE = 'credentials.json';

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

export class ProxyCredentials implements CredentialCheck {
  /** service -> instance id -> SHA-256 of the secret. */
  private readonly byService = new Map<string, Map<string, Buffer>>();
  private readonly writer: CoalescingWriter;

  constructor(
    private readonly dataDir: string,
    private readonly logger: Logger,
  ) {
    this.writer = new CoalescingWriter(
      join(dataDir, CREDENTIALS_FILE),
      () => this.serialize(),
      (err) => this.logger.error('could not persist proxy credential hashes', { file: CREDENTIALS_FILE, error: messageOf(err) }),
    );
  }

  /** A new secret for instance `instanceId` of `service` (replacing its previous one). */
  issue(service: string, instanceId: string): string {
    this.drop(instanceId, false);
    const secret = randomBytes(32).toString('base64url');
    let instances = this.byService.get(service);
    if (instances === undefined) {
      instances = new Map();
      this.byService.set(service, instances);
    }
    instances.set(instanceId, sha256(secret));
    void this.writer.save();
    return secret;
  }

  /** Forgets the secret of an instance (deregistered). */
  drop(instanceId: string, save = true): void {
    for (const [service, instances] of this.byService) {
      if (!instances.delete(instanceId)) continue;
      if (instances.size === 0) this.byService.delete(service);
      if (save) void this.writer.save();
    }
  }

  verify(username: string, secret: string): string | undefined {
    const instances = this.byService.get(username);
    if (instances === undefined) return undefined;
    const hash = sha256(secret);
    let match = false;
    // Every stored hash is compared (no early exit), each in constant time.
    for (const stored of instances.values()) if (timingSafeEqual(stored, hash)) match = true;
    return match ? username : undefined;
  }

  /** Reads the stored hashes of the instances still registered (`registered`: instance id -> service). */
  async load(registered: ReadonlyMap<string, string>): Promise<void> {
    let text: string | undefined;
    try {
      text = await readFileIfExists(join(this.dataDir, CREDENTIALS_FILE));
    } catch (err) {
      this.logger.error('could not read proxy credential hashes; apps must register again', { error: messageOf(err) });
      return;
    }
    if (text === undefined) return;
    let entries: unknown;
    try {
      entries = (JSON.parse(text) as { credentials?: unknown }).credentials;
    } catch (err) {
      this.logger.error('ignoring an unreadable proxy credentials file; apps must register again', { error: messageOf(err) });
      return;
    }
    if (!Array.isArray(entries)) return;
    for (const e of entries as { instanceId?: unknown; service?: unknown; sha256?: unknown }[]) {
      if (typeof e?.instanceId !== 'string' || typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) continue;
      const service = registered.get(e.instanceId);
      if (service === undefined || service !== e.service) continue;
      let instances = this.byService.get(service);
      if (instances === undefined) {
        instances = new Map();
        this.byService.set(service, instances);
      }
      instances.set(e.instanceId, Buffer.from(e.sha256, 'hex'));
    }
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  private serialize(): string {
    const credentials: { instanceId: string; service: string; sha256: string }[] = [];
    for (const [service, instances] of this.byService)
      for (const [instanceId, hash] of instances) credentials.push({ instanceId, service, sha256: hash.toString('hex') });
    credentials.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
    return `${JSON.stringify({ version: 1, credentials }, null, 2)}\n`;
  }
}
