/**
 * `kind: ExternalService`: a host outside the mesh that local apps may call
 * through their agent's outbound listener, with the mesh's deadline,
 * retries and metrics. Validated by the one policy validator (it is one more
 * kind of the same documents: applied, versioned, printed back and rolled
 * back like Routes and ServicePolicy); distributed to agents as
 * "external/<host>" resources (proto/weft/v1/discovery.proto), looked up
 * lazily by the host an app calls.
 *
 *   apiVersion: weft.dev/v1
 *   kind: ExternalService
 *   metadata:
 *     service: payments        # the name: metrics label, logs, Routes/ServicePolicy of it
 *   host: api.payments.example # what apps call (http://api.payments.example/...)
 *   port: 443                  # where the agent connects
 *   tls: true                  # the agent originates TLS (SNI = host, system CAs)
 */
import { isIP } from 'node:net';
import { ValidationError } from '../errors.js';
import { isObject, validateServiceName } from '../validate.js';
import { KIND_EXTERNAL_SERVICE, POLICY_API_VERSION } from './policy-types.js';
import { obj, Problems } from './policy-validate-fields.js';

export interface ExternalServiceDocument {
  apiVersion: typeof POLICY_API_VERSION;
  kind: typeof KIND_EXTERNAL_SERVICE;
  metadata: { service: string };
  /** Lowercase DNS name or IPv4 address, without port or scheme. */
  host: string;
  port: number;
  /** True: the agent speaks TLS to host:port (apps still call it with http://, or tunnel with CONNECT). */
  tls: boolean;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A host an ExternalService may declare: a lowercase DNS name or an IPv4 address. */
export function validateExternalHost(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') throw new ValidationError(path, 'must be a host name such as api.example.com');
  if (v.length > 253) throw new ValidationError(path, 'must be at most 253 characters');
  if (/[:/@?#\s]/.test(v))
    throw new ValidationError(path, 'must be a bare host name, without scheme, port or path (set the port in "port")');
  if (isIP(v) === 4) return v;
  if (v !== v.toLowerCase()) throw new ValidationError(path, `must be lowercase (${JSON.stringify(v.toLowerCase())})`);
  if (!v.split('.').every((label) => LABEL.test(label)))
    throw new ValidationError(path, `invalid host name ${JSON.stringify(v)} (labels of letters, digits and '-', separated by '.')`);
  return v;
}

/** Validates the fields of an ExternalService document (apiVersion and kind are checked by the caller). */
export function externalServiceDocument(c: Problems, o: Record<string, unknown>): ExternalServiceDocument {
  obj(c, o, '', ['apiVersion', 'kind', 'metadata', 'host', 'port', 'tls']);
  const meta = obj(c, o.metadata, 'metadata', ['service']);
  const service = meta && c.take(() => validateServiceName(meta.service, 'metadata.service'));
  const host = c.take(() => validateExternalHost(o.host, 'host'));
  const port = c.take(() => {
    if (o.port === undefined) throw new ValidationError('port', 'is required (443 for an HTTPS host, 80 for plain HTTP)');
    if (typeof o.port !== 'number' || !Number.isInteger(o.port) || o.port < 1 || o.port > 65535)
      throw new ValidationError('port', 'must be an integer 1..65535');
    return o.port;
  });
  if (typeof o.tls !== 'boolean') c.add('tls', 'must be true (the agent speaks TLS to the host) or false (plain HTTP)');
  c.throwIfAny();
  return {
    apiVersion: POLICY_API_VERSION,
    kind: KIND_EXTERNAL_SERVICE,
    metadata: { service: service as string },
    host: host as string,
    port: port as number,
    tls: o.tls as boolean,
  };
}

/**
 * Parses and validates the JSON an agent receives on "external/<host>"
 * (the stored document). A failure lists every problem (the NACK's message).
 */
export function parseExternalResource(json: string, host: string): ExternalServiceDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ValidationError('external.json', `invalid JSON (${(err as Error).message})`);
  }
  if (!isObject(raw) || raw.apiVersion !== POLICY_API_VERSION || raw.kind !== KIND_EXTERNAL_SERVICE)
    throw new ValidationError('external.json', `must be a ${KIND_EXTERNAL_SERVICE} document of ${POLICY_API_VERSION}`);
  const doc = externalServiceDocument(new Problems(), raw);
  if (doc.host !== host)
    throw new ValidationError('external.host', `${JSON.stringify(doc.host)} does not match the resource name's host "${host}"`);
  return doc;
}

/**
 * The body of an `unknown_service` answer for a host that is neither a mesh
 * service nor a declared ExternalService: how to declare it, or how to keep
 * the app from sending it to the mesh at all.
 */
export function undeclaredHostHint(host: string, port: number | undefined, connect: boolean): string {
  // Without a port, HTTPS: an app writes http:// through the proxy and the agent speaks TLS to the host.
  const p = port ?? 443;
  // The registrable label names the provider best: api.stripe.com -> stripe.
  const labels = host.split('.');
  const label = isIP(host) ? '' : ((labels.length >= 2 ? labels[labels.length - 2] : labels[0]) ?? '');
  const name = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(label) ? label.slice(0, 40) : 'external';
  return [
    `${JSON.stringify(host)} is not a service of the mesh and not a declared ExternalService.`,
    'To call it through the mesh (deadline, retries, metrics), declare it and `weft apply -f` this:',
    '',
    '  apiVersion: weft.dev/v1',
    '  kind: ExternalService',
    '  metadata:',
    `    service: ${name}`,
    `  host: ${host}`,
    `  port: ${p}`,
    `  tls: ${p === 443 ? 'true' : 'false'}${port === undefined && !connect ? '   # the agent speaks TLS; port: 80, tls: false for plain HTTP' : ''}`,
    '',
    `Or let the app call it directly, without the agent: add ${host} to NO_PROXY (no_proxy).`,
  ].join('\n');
}
