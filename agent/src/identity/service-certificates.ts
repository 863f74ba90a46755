/**
 * One certificate per service this agent hosts (docs/security.md, "Service
 * certificates"): `spiffe://<td>/svc/<service>`, issued by the control plane
 * only while it holds an instance of the service registered by this agent
 * (IssueServiceCertificate; the control plane reads the caller from the
 * agent certificate of the channel).
 *
 * Contract:
 * - setServices(names) says which services are hosted now (registrations the
 *   control plane acknowledged). A new name is issued at once (a refusal,
 *   e.g. the registration is not visible yet, is retried with backoff while
 *   the name is wanted); a name no longer given is dropped at once.
 * - Each certificate is renewed at about two thirds of its life (±10 %
 *   jitter), like the agent's; a failed renewal retries with backoff and the
 *   current certificate stays in use until it expires (then it is dropped).
 * - Keys are made on this host for each issue. With a data dir, each
 *   certificate and its key are stored next to the agent's
 *   (service-certificate-files.ts) and restore() reads them back at start:
 *   a restarted agent presents the same identities before the control plane
 *   answers (docs/security.md "Service certificates" gives the reasons).
 *   A restored certificate of a service registered here but not yet
 *   acknowledged is held (used, not renewed) until setServices() names it.
 * - list() reports every wanted service, issued or not, for operators
 *   (the admin API's /v1/certificates, `weft status --agent`).
 * - Listeners run after the map changed and must not block or throw.
 */
import { X509Certificate } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { Backoff, type Logger, loadWeftProto, messageOf, parseSpiffeId, uriSans } from '@weft/shared';
import type { IssuedCertificate__Output } from '@weft/shared/generated/weft/v1/IssuedCertificate';
import type { TrustClient } from '@weft/shared/generated/weft/v1/Trust';
import type { ControlPlaneAddresses } from '../discovery/control-plane-addresses.js';
import { CHANNEL_OPTIONS, controlPlaneTarget } from '../discovery/grpc-channel.js';
import { newKeyAndCsr } from './key-and-csr.js';
import { renewDelayMs } from './renewal.js';
import { readServiceCertificates, removeServiceCertificate, writeServiceCertificate } from './service-certificate-files.js';

export interface ServiceCertificate {
  readonly service: string;
  /** spiffe://<td>/svc/<service> */
  readonly spiffeId: string;
  readonly keyPem: string;
  readonly certificatePem: string;
  /** Upper-case hex. */
  readonly serial: string;
  /** The issuing CA's subject ("CN=Weft mesh CA ..."). */
  readonly issuer: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}

/** One hosted service's certificate as operators see it: `certificate` absent while it is not issued (yet). */
export interface ServiceCertificateState {
  readonly service: string;
  readonly certificate?: ServiceCertificate;
  /** When the next issue or renewal is due (Unix ms); absent while one runs. */
  readonly nextRenewalAtMs?: number;
  /** Why the last try failed, until one succeeds. */
  readonly lastError?: string;
}

/** What the mesh TLS reads (ServiceCertificates implements it). */
export interface ServiceCertificateSource {
  current(service: string): ServiceCertificate | undefined;
  /** Called with the service whose certificate changed (issued, renewed, dropped); returns the unsubscribe function. */
  onChange(listener: (service: string) => void): () => void;
}

export interface ServiceCertificatesOptions {
  controlPlane: ControlPlaneAddresses;
  credentials: grpc.ChannelCredentials;
  logger: Logger;
  /** Fraction of the lifetime after which to renew; default 2/3. */
  renewAt?: number;
  /** Where certificates are stored (service-certificate-files.ts); absent: memory only. */
  dataDir?: string;
}

interface Slot {
  cert: ServiceCertificate | undefined;
  timer: NodeJS.Timeout | undefined;
  dueAtMs: number | undefined;
  lastError: string | undefined;
  backoff: Backoff;
  running: boolean;
  /** Restored from disk and not yet asked for by setServices() (no renewal runs). */
  held: boolean;
}

/** The certificate's service identity, checked against what was asked (the control plane is trusted, the reply is still parsed). */
export function serviceCertificateOf(service: string, keyPem: string, issued: IssuedCertificate__Output): ServiceCertificate {
  const cert = new X509Certificate(issued.certificate_pem);
  const id = uriSans(cert.subjectAltName)
    .map(parseSpiffeId)
    .find((i) => i?.kind === 'svc');
  if (id?.kind !== 'svc' || id.name !== service) throw new Error(`the control plane issued no certificate for service ${service}`);
  return Object.freeze({
    service,
    spiffeId: `spiffe://${id.trustDomain}/svc/${service}`,
    keyPem,
    certificatePem: issued.certificate_pem,
    serial: cert.serialNumber.toUpperCase(),
    issuer: cert.issuer.replaceAll('\n', ', '),
    notBeforeMs: Date.parse(cert.validFrom),
    notAfterMs: Date.parse(cert.validTo),
  });
}

function newSlot(): Slot {
  return {
    cert: undefined,
    timer: undefined,
    dueAtMs: undefined,
    lastError: undefined,
    backoff: new Backoff({ baseMs: 250, maxMs: 10_000 }),
    running: false,
    held: false,
  };
}

export class ServiceCertificates implements ServiceCertificateSource {
  private readonly client: TrustClient;
  private readonly log: Logger;
  private readonly slots = new Map<string, Slot>();
  private readonly listeners = new Set<(service: string) => void>();
  private closed = false;

  constructor(private readonly opts: ServiceCertificatesOptions) {
    this.client = new (loadWeftProto().Trust)(controlPlaneTarget(opts.controlPlane), opts.credentials, CHANNEL_OPTIONS);
    this.log = opts.logger.child({ component: 'service-certificates' });
  }

  current(service: string): ServiceCertificate | undefined {
    const cert = this.slots.get(service)?.cert;
    return cert !== undefined && cert.notAfterMs > Date.now() ? cert : undefined;
  }

  /** Every wanted service, by name (an expired certificate shows as absent, as current() treats it). */
  list(): ServiceCertificateState[] {
    const now = Date.now();
    return [...this.slots]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([service, slot]) => ({
        service,
        ...(slot.cert !== undefined && slot.cert.notAfterMs > now ? { certificate: slot.cert } : {}),
        ...(slot.dueAtMs !== undefined ? { nextRenewalAtMs: slot.dueAtMs } : {}),
        ...(slot.lastError !== undefined ? { lastError: slot.lastError } : {}),
      }));
  }

  onChange(listener: (service: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reads the stored certificates of `registered` (the services of the local
   * registrations, acknowledged or not) and holds the usable ones; removes
   * the others. Call once, before setServices().
   */
  async restore(trustDomain: string, registered: Iterable<string>): Promise<void> {
    const dataDir = this.opts.dataDir;
    if (dataDir === undefined || this.closed) return;
    const { usable, refused } = await readServiceCertificates(dataDir, trustDomain, new Set(registered));
    for (const [service, why] of refused) this.log.warn('stored service certificate not used', { service, why });
    for (const [service, cert] of usable) {
      if (this.slots.has(service)) continue;
      this.slots.set(service, { ...newSlot(), cert, held: true });
      this.log.info('service certificate restored', { service, serial: cert.serial, expiresAtMs: cert.notAfterMs });
      this.emit(service);
    }
  }

  /**
   * The services hosted now (acknowledged registrations): starts issuing new
   * ones and drops the others, except restored certificates of `registered`
   * services (a registration the control plane has not acknowledged yet).
   */
  setServices(names: Iterable<string>, registered: Iterable<string> = []): void {
    if (this.closed) return;
    const wanted = new Set(names);
    const keep = new Set(registered);
    for (const [service, slot] of this.slots) {
      if (wanted.has(service) || (slot.held && keep.has(service))) continue;
      clearTimeout(slot.timer);
      this.slots.delete(service);
      if (this.opts.dataDir !== undefined)
        removeServiceCertificate(this.opts.dataDir, service).catch((err) =>
          this.log.warn('stored service certificate not removed', { service, error: messageOf(err) }),
        );
      if (slot.cert !== undefined) {
        this.log.info('service certificate dropped (no instance left here)', { service });
        this.emit(service);
      }
    }
    for (const service of wanted) {
      const existing = this.slots.get(service);
      if (existing?.held === true) {
        // Restored, now hosted: renewed from here on as if it had been issued in this run.
        existing.held = false;
        const cert = existing.cert;
        if (cert === undefined) void this.issue(service, existing);
        else this.schedule(service, existing, renewDelayMs(cert.notBeforeMs, cert.notAfterMs, Date.now(), this.opts.renewAt));
        continue;
      }
      if (existing !== undefined) continue;
      const slot = newSlot();
      this.slots.set(service, slot);
      void this.issue(service, slot);
    }
  }

  /** Issues (or renews) now; used by tests. Resolves when done or failed (a failure reschedules). */
  async renewNow(service: string): Promise<void> {
    const slot = this.slots.get(service);
    if (slot !== undefined) await this.issue(service, slot);
  }

  close(): void {
    this.closed = true;
    for (const slot of this.slots.values()) clearTimeout(slot.timer);
    this.slots.clear();
    this.client.close();
  }

  private async issue(service: string, slot: Slot): Promise<void> {
    if (slot.running) return;
    slot.running = true;
    clearTimeout(slot.timer);
    slot.dueAtMs = undefined;
    try {
      const { keyPem, csrPem } = await newKeyAndCsr(service);
      const issued = await new Promise<IssuedCertificate__Output>((resolve, reject) =>
        this.client.IssueServiceCertificate({ service, csr_pem: csrPem }, { deadline: Date.now() + 10_000 }, (err, res) =>
          err || !res ? reject(err) : resolve(res),
        ),
      );
      if (this.closed || this.slots.get(service) !== slot) return;
      const cert = serviceCertificateOf(service, keyPem, issued);
      if (this.opts.dataDir !== undefined) await this.store(this.opts.dataDir, cert);
      if (this.closed || this.slots.get(service) !== slot) return;
      slot.cert = cert;
      slot.backoff.reset();
      slot.lastError = undefined;
      this.log.info('service certificate issued', { service, serial: slot.cert.serial, expiresAtMs: slot.cert.notAfterMs });
      this.emit(service);
      this.schedule(service, slot, renewDelayMs(slot.cert.notBeforeMs, slot.cert.notAfterMs, Date.now(), this.opts.renewAt));
    } catch (err) {
      if (this.closed || this.slots.get(service) !== slot) return;
      const e = err as grpc.ServiceError;
      const delay = slot.backoff.next();
      slot.lastError = e.details || messageOf(err);
      this.log.warn('service certificate not issued; retrying', { service, error: e.details || messageOf(err), retryInMs: delay });
      if (slot.cert !== undefined && slot.cert.notAfterMs <= Date.now()) {
        slot.cert = undefined;
        this.emit(service);
      }
      this.schedule(service, slot, delay);
    } finally {
      slot.running = false;
    }
  }

  /** A failed write costs the restart case only: logged, the certificate is used all the same. */
  private async store(dataDir: string, cert: ServiceCertificate): Promise<void> {
    try {
      await writeServiceCertificate(dataDir, cert);
    } catch (err) {
      this.log.warn('service certificate not stored', { service: cert.service, error: messageOf(err) });
    }
  }

  private schedule(service: string, slot: Slot, delayMs: number): void {
    if (this.closed) return;
    clearTimeout(slot.timer);
    slot.dueAtMs = Date.now() + delayMs;
    slot.timer = setTimeout(() => void this.issue(service, slot), Math.min(delayMs, 2 ** 31 - 1));
    slot.timer.unref();
  }

  private emit(service: string): void {
    for (const l of this.listeners) {
      try {
        l(service);
      } catch (err) {
        this.log.error('service certificate listener failed', { err });
      }
    }
  }
}
