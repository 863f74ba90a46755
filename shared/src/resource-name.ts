/**
 * Names of resources on the discovery stream: "<type>/<service>", with type
 * "endpoints" (a service's endpoints) or "policy" (its traffic policy), and
 * the mesh-wide "mesh/settings" (MESH_SETTINGS_RESOURCE), "trust/revocations"
 * and "trust/bundle". The
 * control plane and the agent build and split names only through these
 * functions, so the format lives in one place.
 */
import { validateExternalHost } from './policy/policy-external.js';
import { validateServiceName } from './validate.js';

export const RESOURCE_TYPE_ENDPOINTS = 'endpoints';
export const RESOURCE_TYPE_POLICY = 'policy';
export const RESOURCE_TYPE_TRUST = 'trust';
export type ResourceType = typeof RESOURCE_TYPE_ENDPOINTS | typeof RESOURCE_TYPE_POLICY | typeof RESOURCE_TYPE_TRUST;

/** Mesh-wide trust state (discovery.proto rule 8): the deny list and the CA roots. */
export const TRUST_REVOCATIONS_RESOURCE = `${RESOURCE_TYPE_TRUST}/revocations`;
export const TRUST_BUNDLE_RESOURCE = `${RESOURCE_TYPE_TRUST}/bundle`;

/** The control plane's mesh-wide settings (MeshSettings): one resource, subscribed by every agent on every stream. */
export const MESH_SETTINGS_RESOURCE = 'mesh/settings';

export function endpointsResourceName(service: string): string {
  return `${RESOURCE_TYPE_ENDPOINTS}/${service}`;
}

export function policyResourceName(service: string): string {
  return `${RESOURCE_TYPE_POLICY}/${service}`;
}

/** Splits at the first "/"; null when either part is empty. The service part is not validated. */
export function parseResourceName(name: string): { type: string; service: string } | null {
  const slash = name.indexOf('/');
  if (slash <= 0 || slash === name.length - 1) return null;
  return { type: name.slice(0, slash), service: name.slice(slash + 1) };
}

/** True when `name` is of `type` ("policy/…"), whatever its service part. */
export function isResourceOfType(name: string, type: ResourceType): boolean {
  return parseResourceName(name)?.type === type;
}

/**
 * The service of a "<type>/<service>" name of the given type, or null for
 * other types and for names whose service part is not a valid service name
 * (such a name never exists).
 */
export function serviceOfResource(name: string, type: ResourceType): string | null {
  const parsed = parseResourceName(name);
  if (!parsed || parsed.type !== type) return null;
  try {
    return validateServiceName(parsed.service, 'service');
  } catch {
    return null;
  }
}

/**
 * "external/<host>": the ExternalService declared for a host
 * (policy-external.ts), subscribed lazily by the host an app calls.
 */
export const RESOURCE_TYPE_EXTERNAL = 'external';

export function externalResourceName(host: string): string {
  return `${RESOURCE_TYPE_EXTERNAL}/${host}`;
}

/** The host of an "external/<host>" name, or null for other types and hosts an ExternalService cannot declare. */
export function hostOfExternalResource(name: string): string | null {
  const parsed = parseResourceName(name);
  if (!parsed || parsed.type !== RESOURCE_TYPE_EXTERNAL) return null;
  try {
    return validateExternalHost(parsed.service, 'host');
  } catch {
    return null;
  }
}
