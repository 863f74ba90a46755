/**
 * Validation of resources received on the discovery stream. A resource that
 * fails here is NACKed with the message returned, and the agent keeps its
 * previous version; everything else in the response is still applied.
 */
import {
  endpointFromProto,
  messageOf,
  parseResourceName,
  RESOURCE_TYPE_ENDPOINTS,
  validateAddress,
  validateInstanceId,
  validatePort,
  validateServiceName,
} from '@weft/shared';
import type { Resource__Output } from '@weft/shared/generated/weft/v1/Resource';
import type { ServiceSnapshot } from '../contracts.js';

export type DecodeResult = { ok: true; snapshot: ServiceSnapshot } | { ok: false; service: string | undefined; message: string };

export function decodeResource(res: Resource__Output): DecodeResult {
  const parsed = parseResourceName(res.name ?? '');
  if (!parsed) return { ok: false, service: undefined, message: `name: invalid resource name ${JSON.stringify(res.name)}` };
  const { type, service } = parsed;
  const fail = (message: string): DecodeResult => ({ ok: false, service, message });
  if (type !== RESOURCE_TYPE_ENDPOINTS) return fail(`name: unsupported resource type ${JSON.stringify(type)}`);
  try {
    validateServiceName(service, 'name');
  } catch (err) {
    return fail(messageOf(err));
  }
  if (!res.version) return fail('version: is required');
  if (res.body !== 'endpoints' || !res.endpoints) return fail('body: an "endpoints/..." resource must carry endpoints');
  if (res.endpoints.service !== service) {
    return fail(`endpoints.service: ${JSON.stringify(res.endpoints.service)} does not match the resource name's service "${service}"`);
  }
  const seen = new Set<string>();
  try {
    const endpoints = res.endpoints.endpoints.map((e, i) => {
      const at = `endpoints[${i}]`;
      validateInstanceId(e.instance_id, `${at}.instance_id`);
      if (seen.has(e.instance_id)) throw new Error(`${at}.instance_id: duplicate ${JSON.stringify(e.instance_id)}`);
      seen.add(e.instance_id);
      validateAddress(e.agent_address, `${at}.agent_address`);
      validatePort(e.agent_port, `${at}.agent_port`);
      validateAddress(e.address, `${at}.address`);
      validatePort(e.port, `${at}.port`);
      return Object.freeze(endpointFromProto(e, service));
    });
    return { ok: true, snapshot: Object.freeze({ service, version: res.version, endpoints: Object.freeze(endpoints) }) };
  } catch (err) {
    return fail(messageOf(err));
  }
}
