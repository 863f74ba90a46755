/**
 * Renews the agent's certificate at about two thirds of its life (with ±10%
 * jitter so a fleet enrolled together does not renew together), over the
 * agent's authenticated channel (RenewCertificate with a new key's CSR).
 * The new files are written before the snapshot is replaced; a failure is
 * retried with backoff until the certificate expires.
 */
import type * as grpc from '@grpc/grpc-js';
import { Backoff, type Logger, loadWeftProto } from '@weft/shared';
import type { IssuedCertificate__Output } from '@weft/shared/generated/weft/v1/IssuedCertificate';
import type { TrustClient } from '@weft/shared/generated/weft/v1/Trust';
import type { ControlPlaneAddresses } from '../discovery/control-plane-addresses.js';
import { CHANNEL_OPTIONS, controlPlaneTarget } from '../discovery/grpc-channel.js';
import { type AgentIdentity, snapshotOf } from './agent-identity.js';
import { writeIdentityFiles } from './identity-files.js';
import { newKeyAndCsr } from './key-and-csr.js';

export interface RenewalOptions {
  identity: AgentIdentity;
  dataDir: string;
  controlPlane: ControlPlaneAddresses;
  credentials: grpc.ChannelCredentials;
  logger: Logger;
  /** Fraction of the lifetime after which to renew; default 2/3. */
  renewAt?: number;
}

export function renewDelayMs(notBeforeMs: number, notAfterMs: number, now: number, renewAt = 2 / 3, random = Math.random): number {
  const life = notAfterMs - notBeforeMs;
  const target = notBeforeMs + life * renewAt * (0.9 + 0.2 * random());
  return Math.max(0, target - now);
}

export class CertificateRenewal {
  private readonly client: TrustClient;
  private readonly log: Logger;
  private readonly backoff = new Backoff({ baseMs: 1_000, maxMs: 30_000 });
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: RenewalOptions) {
    this.client = new (loadWeftProto().Trust)(controlPlaneTarget(opts.controlPlane), opts.credentials, CHANNEL_OPTIONS);
    this.log = opts.logger.child({ component: 'renewal' });
  }

  start(): void {
    const s = this.opts.identity.current();
    this.schedule(renewDelayMs(s.notBeforeMs, s.notAfterMs, Date.now(), this.opts.renewAt));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.client.close();
  }

  /** Renews now (also used by tests); resolves when the new certificate is in place. */
  async renewNow(): Promise<void> {
    const identity = this.opts.identity;
    const { keyPem, csrPem } = await newKeyAndCsr(identity.current().agentId);
    const issued = await new Promise<IssuedCertificate__Output>((resolve, reject) =>
      this.client.RenewCertificate({ csr_pem: csrPem }, { deadline: Date.now() + 10_000 }, (err, res) =>
        err || !res ? reject(err) : resolve(res),
      ),
    );
    const next = snapshotOf(keyPem, issued.certificate_pem, issued.ca_bundle_pem, 'renewal response');
    if (next.agentId !== identity.current().agentId)
      throw new Error(`renewal returned agent ${next.agentId}, not ${identity.current().agentId}`);
    await writeIdentityFiles(this.opts.dataDir, { keyPem, certificatePem: issued.certificate_pem, caBundlePem: issued.ca_bundle_pem });
    identity.replace(next);
    this.log.info('certificate renewed', { serial: next.serial, expiresAtMs: next.notAfterMs });
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), Math.min(delayMs, 2 ** 31 - 1));
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.closed) return;
    try {
      await this.renewNow();
      this.backoff.reset();
      this.start();
    } catch (err) {
      const e = err as grpc.ServiceError;
      const delay = this.backoff.next();
      const left = this.opts.identity.current().notAfterMs - Date.now();
      this.log.warn('certificate renewal failed; retrying', { error: e.details || e.message, retryInMs: delay, expiresInMs: left });
      this.schedule(delay);
    }
  }
}
