/**
 * The resource types that ride the discovery stream besides endpoints
 * (policy/<svc>, external/<host>), put together as the one companion the
 * discovery client, the config view and the persisted snapshot talk to: each
 * name goes to the part that owns it.
 */
import type { Resource__Output } from '@weft/shared/generated/weft/v1/Resource';
import type { ResourceError } from '@weft/shared/generated/weft/v1/ResourceError';
import type { CompanionResources } from './config-view.js';
import type { CompanionHandler } from './discovery-client.js';
import type { PersistedPolicies } from './snapshot-store.js';

export interface CompanionPart {
  owns(name: string): boolean;
  apply(resources: readonly Resource__Output[], removed: readonly string[], notFound: readonly string[]): ResourceError[];
  resources(): Resource__Output[];
  versions(): Record<string, string>;
  /** Names subscribed together with a service's endpoints. */
  namesFor?(service: string): string[];
  /** Names subscribed on their own (not per service), sent in every stream's first request. */
  subscriptions?(): string[];
  /** Names subscribed on every stream whatever services are called ("mesh/settings"). */
  baseNames?(): string[];
}

export type Companion = CompanionHandler & PersistedPolicies & CompanionResources;

export function combineCompanions(parts: readonly CompanionPart[]): Companion {
  const ownerOf = (name: string) => parts.find((p) => p.owns(name));
  return {
    owns: (name) => ownerOf(name) !== undefined,
    apply(resources, removed, notFound) {
      return parts.flatMap((p) =>
        p.apply(
          resources.filter((r) => p.owns(r.name)),
          removed.filter((n) => p.owns(n)),
          notFound.filter((n) => p.owns(n)),
        ),
      );
    },
    resources: () => parts.flatMap((p) => p.resources()),
    versions: () => Object.assign({}, ...parts.map((p) => p.versions())),
    namesFor: (service) => parts.flatMap((p) => p.namesFor?.(service) ?? []),
    subscriptions: () => parts.flatMap((p) => p.subscriptions?.() ?? []),
    baseNames: () => parts.flatMap((p) => p.baseNames?.() ?? []),
  };
}
