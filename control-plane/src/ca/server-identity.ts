/**
 * The control plane's own TLS identity on its gRPC port: a key and a
 * certificate from the mesh CA (spiffe://<td>/control-plane, plus DNS/IP
 * names of this host), handed to the gRPC server's TLS listener, which
 * applies a new certificate or CA bundle to new connections without a
 * restart (onUpdate).
 * Re-issued at two thirds of its life and whenever the CA's roots change.
 *
 * The chain sent in the handshake is the leaf followed by every trusted
 * root: a client holding only a token pins the root by its fingerprint
 * (shared/src/identity/pinned-root.ts).
 */
import os from 'node:os';
import type { Logger } from '@weft/shared';
import type { MeshCa } from './mesh-ca.js';

/** What a TLS server needs of the identity: its chain and key, and the CA bundle it verifies clients against. */
export interface ServerTlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

export const SERVER_CERT_TTL_MS = 30 * 24 * 3600 * 1000;

/** Every name a client may dial this host by: loopback, hostname, interface addresses, the bind host and extras. */
export function serverNames(bindHost: string, extra: readonly string[]): string[] {
  const names = new Set<string>(['localhost', '127.0.0.1', '::1', os.hostname()]);
  if (bindHost !== '0.0.0.0' && bindHost !== '::') names.add(bindHost);
  for (const addrs of Object.values(os.networkInterfaces())) for (const a of addrs ?? []) names.add(a.address.replace(/%.*$/, ''));
  for (const e of extra) names.add(e);
  return [...names];
}

export class ServerIdentity {
  private material: ServerTlsMaterial | null = null;
  private readonly listeners = new Set<(m: ServerTlsMaterial) => void>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly meshCa: MeshCa,
    private readonly names: string[],
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  static async start(meshCa: MeshCa, names: string[], log: Logger, ttlMs = SERVER_CERT_TTL_MS): Promise<ServerIdentity> {
    const s = new ServerIdentity(meshCa, names, ttlMs, log.child({ component: 'server-identity' }));
    await s.refresh();
    meshCa.onChange(() => void s.refresh().catch((err: unknown) => s.log.error('cannot re-issue the server certificate', { err })));
    return s;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  /** The current chain, key and CA bundle (set once start() resolved). */
  current(): ServerTlsMaterial {
    if (!this.material) throw new Error('ServerIdentity: no certificate yet');
    return this.material;
  }

  /** Calls `listener` with every later re-issue (renewal, CA roots changed); returns the unsubscribe. */
  onUpdate(listener: (m: ServerTlsMaterial) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async refresh(): Promise<void> {
    if (this.closed) return;
    const issued = await this.meshCa.issueServerCertificate(this.names, this.ttlMs);
    const material = { cert: Buffer.from(issued.chainPem), key: Buffer.from(issued.keyPem), ca: Buffer.from(this.meshCa.bundlePem()) };
    this.material = material;
    for (const l of this.listeners) l(material);
    clearTimeout(this.timer);
    const renewIn = Math.max(60_000, ((issued.notAfterMs - Date.now()) * 2) / 3);
    this.timer = setTimeout(
      () => void this.refresh().catch((err: unknown) => this.log.error('cannot renew the server certificate', { err })),
      renewIn,
    );
    this.timer.unref();
    this.log.info('server certificate issued', { expiresAtMs: issued.notAfterMs, names: this.names.length });
  }
}
