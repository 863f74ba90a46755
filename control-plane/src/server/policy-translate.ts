/**
 * Policy entries -> proto Resource ("policy/<service>"), cached per immutable
 * entry so every stream that sends one shares the translation.
 */
import { policyResourceName } from '@weft/shared';
import type { Resource } from '@weft/shared/generated/weft/v1/Resource';
import type { PolicyEntry } from '../registry/policy-registry.js';
import type { Watchable } from '../registry/watch-index.js';

const cache = new WeakMap<PolicyEntry, Resource>();

export function policyResource(entry: PolicyEntry): Resource {
  let r = cache.get(entry);
  if (!r) {
    r = { name: policyResourceName(entry.service), version: entry.version, policy: { service: entry.service, json: entry.json } };
    cache.set(entry, r);
  }
  return r;
}

export function isPolicyEntry(e: object): e is PolicyEntry {
  return 'json' in e;
}

/** What a discovery stream needs from the policy registry. */
export interface PolicySource extends Watchable {
  entry(service: string): PolicyEntry | undefined;
}
