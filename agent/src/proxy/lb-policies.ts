/**
 * Importing this module registers every built-in load-balancing policy
 * (each lb-*.ts registers itself on import). A new policy is a new lb-*.ts
 * file plus its import line here; nothing else names it.
 */
import './lb-least-request.js';
import './lb-round-robin.js';
import './lb-consistent-hash.js';

export { CONSISTENT_HASH, type HashOn, hashKeyOf } from './lb-consistent-hash.js';
export { LEAST_REQUEST } from './lb-least-request.js';
export { ROUND_ROBIN } from './lb-round-robin.js';

/** The registry name of a ServicePolicy `loadBalancer.policy` ("round-robin" -> "round_robin"). */
export function lbPolicyName(documentName: string): string {
  return documentName.replaceAll('-', '_');
}
