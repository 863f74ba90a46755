/**
 * Read-only config routes of the HTTP API, the JSON twins of the gRPC
 * GetConfig and ConfigHistory calls (same PolicyRegistry code, same read
 * rule). Documents and change sides are parsed JSON, not strings:
 *
 *   GET /v1/config[?service=S][&kind=K]
 *     -> {"revision":"N","documents":[{"service","kind","revision","document":{…}}]}
 *   GET /v1/config/history[?service=S][&limit=1..1000]
 *     -> {"revision":"N","revisions":[{"revision","appliedAt","description",
 *          "changes":[{"service","kind","action","before":{…}|null,"after":{…}|null}]}]}
 *
 * History is newest first, 50 revisions unless `limit` says otherwise.
 */
import { ValidationError } from '@weft/shared';
import type { PolicyRegistry } from '../registry/policy-registry.js';
import type { PolicyChange } from '../store/policy-store.js';

export type QueryRoute = (query: URLSearchParams) => unknown;

function parseJsonOrNull(text: string): unknown {
  return text === '' ? null : (JSON.parse(text) as unknown);
}

function changeToJson(c: PolicyChange) {
  return { service: c.service, kind: c.kind, action: c.action, before: parseJsonOrNull(c.beforeJson), after: parseJsonOrNull(c.afterJson) };
}

function serviceParam(query: URLSearchParams): string | undefined {
  // Only compared for equality with stored names, so any text is safe; the bound keeps error messages short.
  const service = query.get('service') || undefined;
  if (service !== undefined && service.length > 253) throw new ValidationError('service', 'must be at most 253 characters');
  return service;
}

function limitParam(query: URLSearchParams): number {
  const raw = query.get('limit');
  if (raw === null || raw === '') return 0;
  const n = Number(raw);
  if (!/^[0-9]+$/.test(raw) || n < 1 || n > 1000)
    throw new ValidationError('limit', `must be a whole number 1..1000, got ${JSON.stringify(raw)}`);
  return n;
}

export function configRoutes(policies: PolicyRegistry): Record<string, QueryRoute> {
  return {
    '/v1/config': (query) => ({
      revision: String(policies.revision()),
      documents: policies.list(serviceParam(query), query.get('kind') || undefined).map((p) => ({
        service: p.service,
        kind: p.kind,
        revision: String(p.revision),
        document: JSON.parse(p.json) as unknown,
      })),
    }),
    '/v1/config/history': async (query) => ({
      revision: String(policies.revision()),
      revisions: (await policies.history(serviceParam(query), limitParam(query))).map((r) => ({
        revision: String(r.revision),
        appliedAt: r.appliedAt,
        description: r.description,
        changes: r.changes.map(changeToJson),
      })),
    }),
  };
}
