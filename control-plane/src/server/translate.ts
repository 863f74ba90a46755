/**
 * The translator: registry entries -> proto messages. The discovery stream
 * state machine decides *what* to send; this file only decides *how it looks*
 * on the wire (linkerd's watcher/translator split). It imports nothing from
 * the stream (the stream looks down on it); the status the stream reports is
 * rendered by agent-status.ts.
 */
import { endpointsResourceName, endpointToProto, externalResourceName, instanceToProto, MESH_SETTINGS_RESOURCE } from '@weft/shared';
import type { DiscoveryResponse } from '@weft/shared/generated/weft/v1/DiscoveryResponse';
import type { Resource } from '@weft/shared/generated/weft/v1/Resource';
import type { ServiceSummary } from '@weft/shared/generated/weft/v1/ServiceSummary';
import type { ServiceEntry } from '../registry/endpoint-view.js';
import type { ExternalEntry } from '../registry/external-index.js';
import type { MeshSettingsEntry } from '../registry/mesh-settings.js';
import type { PolicyEntry } from '../registry/policy-registry.js';
import { policyResource } from './policy-translate.js';

/**
 * Entries are immutable and replaced on change, so the translation of one
 * entry is made once and shared by every stream that sends it.
 */
const resourceCache = new WeakMap<ServiceEntry, Resource>();

export function endpointsResource(entry: ServiceEntry): Resource {
  let r = resourceCache.get(entry);
  if (!r) {
    r = {
      name: endpointsResourceName(entry.service),
      version: entry.version,
      endpoints: { service: entry.service, endpoints: entry.endpoints.map(endpointToProto) },
    };
    resourceCache.set(entry, r);
  }
  return r;
}

const externalCache = new WeakMap<ExternalEntry, Resource>();

export function externalResource(entry: ExternalEntry): Resource {
  let r = externalCache.get(entry);
  if (!r) {
    r = { name: externalResourceName(entry.host), version: entry.version, external: { host: entry.host, json: entry.externalJson } };
    externalCache.set(entry, r);
  }
  return r;
}

export interface ResponsePlan {
  nonce: string;
  revision: number;
  resources: readonly ServiceEntry[];
  /** "policy/<service>" resources, sent after the endpoints. */
  policies?: readonly PolicyEntry[];
  /** "mesh/settings", sent first when due. */
  settings?: MeshSettingsEntry;
  /** "trust/..." resources (already translated, immutable), sent last. */
  trust?: readonly Resource[];
  /** "external/<host>" resources, sent last. */
  externals?: readonly ExternalEntry[];
  removed: readonly string[];
  notFound: readonly string[];
}

export function discoveryResponse(plan: ResponsePlan): DiscoveryResponse {
  return {
    nonce: plan.nonce,
    revision: String(plan.revision),
    resources: [
      ...(plan.settings ? [meshSettingsResource(plan.settings)] : []),
      ...plan.resources.map(endpointsResource),
      ...(plan.policies ?? []).map(policyResource),
      ...(plan.trust ?? []),
      ...(plan.externals ?? []).map(externalResource),
    ],
    removed: [...plan.removed],
    not_found: [...plan.notFound],
  };
}

const settingsCache = new WeakMap<MeshSettingsEntry, Resource>();

export function meshSettingsResource(entry: MeshSettingsEntry): Resource {
  let r = settingsCache.get(entry);
  if (!r) {
    r = { name: MESH_SETTINGS_RESOURCE, version: entry.version, mesh: { default_access: entry.defaultAccess } };
    settingsCache.set(entry, r);
  }
  return r;
}

export function serviceSummary(entry: ServiceEntry): ServiceSummary {
  return {
    name: entry.service,
    version: entry.version,
    instances: entry.endpoints.map((e) => instanceToProto(e)),
  };
}
