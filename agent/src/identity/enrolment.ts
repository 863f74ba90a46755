/**
 * How an agent gets its identity at start: the one in its data dir, or a new
 * one from the control plane with a join token (first contact pinned to the
 * CA fingerprint the token carries). Without either it refuses to start.
 */
import * as grpc from '@grpc/grpc-js';
import {
  controlPlaneIdentityCheck,
  fetchPinnedRoot,
  type Logger,
  loadWeftProto,
  messageOf,
  parseToken,
  ValidationError,
} from '@weft/shared';
import type { IssuedCertificate__Output } from '@weft/shared/generated/weft/v1/IssuedCertificate';
import { addressList, type ControlPlaneAddresses, hostPort, preferenceOrder } from '../discovery/control-plane-addresses.js';
import { CHANNEL_OPTIONS, controlPlaneTarget } from '../discovery/grpc-channel.js';
import { AgentIdentity, type IdentitySnapshot, snapshotOf } from './agent-identity.js';
import { identityDir, readIdentityFiles, writeIdentityFiles } from './identity-files.js';
import { newKeyAndCsr } from './key-and-csr.js';

export class EnrolmentError extends Error {
  readonly code = 'enrolment_failed';
  constructor(message: string) {
    super(message);
    this.name = 'EnrolmentError';
  }
}

export interface IdentityOptions {
  dataDir: string;
  controlPlane: ControlPlaneAddresses;
  /** The agent id to enrol as (ignored when an identity is on disk, except that it must match). */
  agentId: string;
  /** Set when the operator passed --agent-id: a stored identity of another id is an error. */
  agentIdExplicit: boolean;
  joinToken?: string;
  logger: Logger;
}

/** Loads the stored identity, or enrols with the join token; throws EnrolmentError with a message for the operator. */
export async function loadOrEnrol(opts: IdentityOptions): Promise<AgentIdentity> {
  const log = opts.logger.child({ component: 'identity' });
  const files = await readIdentityFiles(opts.dataDir);
  if (files) {
    const snap = snapshotOf(files.keyPem, files.certificatePem, files.caBundlePem, identityDir(opts.dataDir));
    if (opts.agentIdExplicit && snap.agentId !== opts.agentId)
      throw new EnrolmentError(
        `${identityDir(opts.dataDir)} holds the identity of agent ${JSON.stringify(snap.agentId)}, not ${JSON.stringify(opts.agentId)}`,
      );
    if (snap.notAfterMs > Date.now()) {
      log.info('using the stored identity', { spiffeId: snap.spiffeId, serial: snap.serial, expiresAtMs: snap.notAfterMs });
      return new AgentIdentity(snap, log);
    }
    if (!opts.joinToken)
      throw new EnrolmentError(
        `the certificate in ${identityDir(opts.dataDir)} expired at ${new Date(snap.notAfterMs).toISOString()}; enrol again with --join-token (weft token create --kind join --agent-id ${snap.agentId})`,
      );
    log.warn('stored certificate expired; enrolling again', { expiredAtMs: snap.notAfterMs });
  } else if (!opts.joinToken) {
    throw new EnrolmentError(
      `no certificate in ${identityDir(opts.dataDir)} and no join token: make one on the control plane with "weft token create --kind join" and start the agent with --join-token TOKEN (or --join-token-file FILE)`,
    );
  }
  const snap = await enrol(opts, opts.joinToken!, log);
  return new AgentIdentity(snap, log);
}

async function enrol(opts: IdentityOptions, joinToken: string, log: Logger): Promise<IdentitySnapshot> {
  let caFingerprint: string;
  try {
    const t = parseToken(joinToken, '--join-token');
    if (t.kind !== 'join') throw new ValidationError('--join-token', `is a ${t.kind} token, not a join token`);
    caFingerprint = t.caFingerprint;
  } catch (err) {
    throw new EnrolmentError(messageOf(err));
  }
  // First contact: any replica that answers and shows the CA the token pins (replicas share one CA).
  let rootPem: string | undefined;
  const refusals: string[] = [];
  for (const address of preferenceOrder(addressList(opts.controlPlane), hostPort)) {
    try {
      rootPem = await fetchPinnedRoot(address.host, address.port, caFingerprint);
      break;
    } catch (err) {
      refusals.push(`${hostPort(address)}: ${messageOf(err)}`);
    }
  }
  if (rootPem === undefined) throw new EnrolmentError(`cannot verify the control plane at ${refusals.join('; ')}`);
  const { keyPem, csrPem } = await newKeyAndCsr(opts.agentId);
  const proto = loadWeftProto();
  const creds = grpc.credentials.createSsl(Buffer.from(rootPem), null, null, { checkServerIdentity: controlPlaneIdentityCheck() });
  const client = new proto.Trust(controlPlaneTarget(opts.controlPlane), creds, CHANNEL_OPTIONS);
  let issued: IssuedCertificate__Output;
  try {
    issued = await new Promise<IssuedCertificate__Output>((resolve, reject) =>
      client.Enrol({ join_token: joinToken, agent_id: opts.agentId, csr_pem: csrPem }, { deadline: Date.now() + 10_000 }, (err, res) =>
        err || !res ? reject(err) : resolve(res),
      ),
    );
  } catch (err) {
    const e = err as grpc.ServiceError;
    throw new EnrolmentError(`enrolment refused by the control plane: ${e.details || e.message}`);
  } finally {
    client.close();
  }
  const snap = snapshotOf(keyPem, issued.certificate_pem, issued.ca_bundle_pem, 'enrolment response');
  await writeIdentityFiles(opts.dataDir, { keyPem, certificatePem: issued.certificate_pem, caBundlePem: issued.ca_bundle_pem });
  log.info('enrolled', { spiffeId: snap.spiffeId, serial: snap.serial, expiresAtMs: snap.notAfterMs, dir: identityDir(opts.dataDir) });
  return snap;
}
