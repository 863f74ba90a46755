/**
 * Cross-reference checks that need the registry: they produce warnings, not
 * errors, because a route may name a service (or a tag) before it is deployed
 * — the operator is told which.
 */
import type { PolicyDocument } from './policy-types.js';

export interface RegistryFacts {
  /** Tags of each instance of `service`; undefined when the service has no instances. */
  instanceTags(service: string): readonly (readonly string[])[] | undefined;
}

export function crossReferenceWarnings(docs: readonly { source: string; doc: PolicyDocument }[], facts: RegistryFacts): string[] {
  const out: string[] = [];
  for (const { source, doc } of docs) {
    const self = doc.metadata.service;
    if (doc.kind === 'ExternalService') {
      if ((facts.instanceTags(self)?.length ?? 0) > 0)
        out.push(`${source}: metadata.service: "${self}" is also a mesh service with instances (calls by its host still go outside)`);
      continue;
    }
    if (!facts.instanceTags(self)) out.push(`${source}: metadata.service: service "${self}" has no instances yet`);
    if (doc.kind === 'AccessPolicy') {
      doc.rules.forEach((rule, i) => {
        rule.from.forEach((from, j) => {
          if (from !== '*' && !from.startsWith('spiffe://') && !facts.instanceTags(from))
            out.push(`${source}: rules[${i}].from[${j}]: service "${from}" has no instances yet`);
        });
      });
      continue;
    }
    if (doc.kind !== 'Routes') continue;
    doc.rules.forEach((rule, i) => {
      rule.route?.forEach((dest, j) => {
        const target = dest.service ?? self;
        const field = `rules[${i}].route[${j}]`;
        const instances = facts.instanceTags(target);
        if (!instances) {
          if (dest.service) out.push(`${source}: ${field}.service: service "${target}" does not exist yet (no instances)`);
          return;
        }
        if (dest.tags && dest.tags.length > 0) {
          const tags = dest.tags;
          if (!instances.some((have) => tags.every((t) => have.includes(t)))) {
            out.push(`${source}: ${field}.tags: no instance of "${target}" carries ${tags.map((t) => JSON.stringify(t)).join(' + ')}`);
          }
        }
      });
      const total = (rule.route ?? []).reduce((s, d) => s + (d.weight ?? 1), 0);
      if (rule.route && rule.route.length > 1 && total !== 100)
        out.push(`${source}: rules[${i}].route: weights add up to ${total}, not 100 (they are relative)`);
    });
  }
  return out;
}
