/**
 * The agent's handler of the "trust/..." resources on the discovery stream
 * (discovery.proto rule 8): the deny list goes to AgentIdentity.setRevocations,
 * a changed CA bundle is written to disk and installed in the identity (so
 * the CA rotation reaches the agent before its next renewal).
 */
import {
  isResourceOfType,
  type Logger,
  messageOf,
  RESOURCE_TYPE_TRUST,
  splitPemCertificates,
  TRUST_BUNDLE_RESOURCE,
  TRUST_REVOCATIONS_RESOURCE,
} from '@weft/shared';
import type { Resource__Output } from '@weft/shared/generated/weft/v1/Resource';
import type { ResourceError } from '@weft/shared/generated/weft/v1/ResourceError';
import type { CompanionHandler } from '../discovery/discovery-client.js';
import type { AgentIdentity } from './agent-identity.js';
import { writeBundleSync } from './identity-files.js';

export const TRUST_SUBSCRIPTIONS = [TRUST_REVOCATIONS_RESOURCE, TRUST_BUNDLE_RESOURCE];

export function trustResourceHandler(identity: AgentIdentity, dataDir: string, log: Logger): CompanionHandler {
  return {
    owns: (name) => isResourceOfType(name, RESOURCE_TYPE_TRUST),
    apply(resources: readonly Resource__Output[]): ResourceError[] {
      const errors: ResourceError[] = [];
      for (const r of resources) {
        if (r.name === TRUST_REVOCATIONS_RESOURCE && r.revocations) {
          identity.setRevocations(r.version, r.revocations.agent_ids ?? [], r.revocations.serials ?? []);
          log.info('deny list updated', { version: r.version, agents: r.revocations.agent_ids?.length ?? 0 });
        } else if (r.name === TRUST_BUNDLE_RESOURCE && r.bundle) {
          const pem = r.bundle.ca_bundle_pem;
          if (splitPemCertificates(pem).length === 0) {
            errors.push({ name: r.name, version: r.version, message: 'bundle.ca_bundle_pem: holds no certificate' });
            continue;
          }
          const current = identity.current();
          if (pem === current.caBundlePem) continue;
          try {
            writeBundleSync(dataDir, pem);
          } catch (err) {
            errors.push({ name: r.name, version: r.version, message: `cannot write the CA bundle: ${messageOf(err)}` });
            continue;
          }
          identity.replace(Object.freeze({ ...current, caBundlePem: pem }));
          log.info('CA bundle updated', { version: r.version, roots: splitPemCertificates(pem).length });
        } else {
          errors.push({ name: r.name, version: r.version, message: 'unknown trust resource or missing body' });
        }
      }
      return errors;
    },
  };
}
