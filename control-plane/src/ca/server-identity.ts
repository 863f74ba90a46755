/**
 * The control plane's own TLS identity on its gRPC port: a key and a
 * certificate from the mesh CA (spiffe://<td>/control-plane, plus DNS/IP
 * names of this host), served to grpc-js as a CertificateProvider so a new
 * certificate or CA bundle applies to new connections without a restart.
 * Re-issued at two thirds of its life and whenever the CA's roots change.
 *
 * The chain sent in the handshake is the leaf followed by every trusted
 * root: a client holding only a token pins the root by its fingerprint
 * (shared/src/identity/pinned-root.ts).
 */
import os from 'node:os';
import type { experimental } from '@grpc/grpc-js';
import type { Logger } from '@weft/shared';
import type { MeshCa } from './mesh-ca.js';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export const SERVER_CERT_TTL_MS = 30 * 24 * 3600 * 1000;

/** Every name a client may dial this host by: loopback, hostname, interface addresses, the bind host and extras. */
export function serverNames(bindHost: string, extra: readonly string[]): string[] {
  const names = new Set<string>(['localhost', '127.0.0.1', '::1', os.hostname()]);
  if (bindHost !== '0.0.0.0' && bindHost !== '::') names.add(bindHost);
  for (const addrs of Object.values(os.networkInterfaces())) for (const a of addrs ?? []) names.add(a.address.replace(/%.*$/, ''));
  for (const e of extra) names.add(e);
  return [...names];
}

export class ServerIdentity implements CertificateProvider {
  private ca: { caCertificate: Buffer } | null = null;
  private identity: { certificate: Buffer; privateKey: Buffer } | null = null;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
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

  // First updates are delivered on the next tick: grpc-js registers its server watcher only after
  // adding these listeners, so an update delivered synchronously would never reach the server.
  addCaCertificateListener(l: CaListener): void {
    this.caListeners.add(l);
    setImmediate(() => this.caListeners.has(l) && this.ca && l(this.ca));
  }
  removeCaCertificateListener(l: CaListener): void {
    this.caListeners.delete(l);
  }
  addIdentityCertificateListener(l: IdentityListener): void {
    this.identityListeners.add(l);
    setImmediate(() => this.identityListeners.has(l) && this.identity && l(this.identity));
  }
  removeIdentityCertificateListener(l: IdentityListener): void {
    this.identityListeners.delete(l);
  }

  private async refresh(): Promise<void> {
    if (this.closed) return;
    const issued = await this.meshCa.issueServerCertificate(this.names, this.ttlMs);
    this.ca = { caCertificate: Buffer.from(this.meshCa.bundlePem()) };
    this.identity = { certificate: Buffer.from(issued.chainPem), privateKey: Buffer.from(issued.keyPem) };
    for (const l of this.caListeners) l(this.ca);
    for (const l of this.identityListeners) l(this.identity);
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
