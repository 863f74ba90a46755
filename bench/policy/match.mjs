#!/usr/bin/env node
// Route-matching microbenchmark: ns per route() call on a service with 100
// rules where the request matches only the last one (the worst case: every
// rule is evaluated), next to a baseline of 0 rules measured in the same run.
// Usage: node bench/policy/match.mjs [--rules 100] [--iterations 2000000]
// Appends the figures to bench/results/policy.md.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePolicy } from '../../agent/dist/policy/policy-compile.js';
import { route } from '../../agent/dist/policy/policy-match.js';
import { OutboundPolicy } from '../../agent/dist/policy/policy-outbound.js';
import { PolicyView } from '../../agent/dist/policy/policy-view.js';
import { createLogger, validatePolicyDocument } from '../../shared/dist/index.js';

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const RULES = arg('--rules', 100);
const N = arg('--iterations', 2_000_000);

function rules(n) {
  const out = [];
  for (let i = 0; i < n - 1; i++) {
    // A mix of what operators write: prefixes, exact paths, header and regex matches.
    const kind = i % 4;
    const match =
      kind === 0
        ? { path: { prefix: `/api/v${i}/` } }
        : kind === 1
          ? { path: { exact: `/exact/${i}` }, methods: ['GET'] }
          : kind === 2
            ? { headers: [{ name: 'x-tenant', exact: `t${i}` }] }
            : { path: { regex: `^/items/${i}/[0-9]+$` } };
    out.push({ match, route: [{ tags: ['version=v1'] }] });
  }
  out.push({
    match: { path: { prefix: '/orders/' }, headers: [{ name: 'x-user', present: true }] },
    route: [
      { tags: ['version=v1'], weight: 90 },
      { tags: ['version=v2'], weight: 10 },
    ],
  });
  return out;
}

function policyOf(n) {
  const doc = validatePolicyDocument({ apiVersion: 'weft.dev/v1', kind: 'Routes', metadata: { service: 'orders' }, rules: rules(n) });
  return compilePolicy({ service: 'orders', routes: doc }, '1');
}

const req = { method: 'GET', path: '/orders/42', query: '', headers: { host: 'orders', 'x-user': '7', 'x-tenant': 'zzz', accept: '*/*' } };

function measure(fn, iterations) {
  for (let i = 0; i < 50_000; i++) fn(); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - t0) / iterations;
}

const big = policyOf(RULES);
if (route(big, req)?.index !== RULES - 1) throw new Error('benchmark request must match the last rule');
const empty = policyOf(1);
const view = new PolicyView(createLogger({}, { level: 'error' }));
view.apply(
  [{ name: 'policy/orders', version: '1', body: 'policy', policy: { service: 'orders', json: JSON.stringify(big.bundle) } }],
  [],
  [],
);
const outbound = new OutboundPolicy(view);

const results = [];
for (let round = 0; round < 3; round++) {
  results.push({
    noPolicy: measure(() => outbound.decide('payments', 'GET', '/orders/42', req, 'payments'), N),
    oneRule: measure(() => route(empty, req), N),
    lastOf: measure(() => route(big, req), N),
    decide: measure(() => outbound.decide('orders', 'GET', '/orders/42', req, 'orders'), N),
    decideDotted: measure(() => outbound.decide('orders', 'GET', '/x/..//%6Frders/./42', req, 'orders'), N),
  });
}
const best = (k) => Math.min(...results.map((r) => r[k]));
const lines = [
  `service without policy (decide = one Map lookup): ${best('noPolicy').toFixed(0)} ns/request`,
  `route(), 1 rule, match:                          ${best('oneRule').toFixed(0)} ns/request`,
  `route(), ${RULES} rules, match on the last:           ${best('lastOf').toFixed(0)} ns/request (${(best('lastOf') / 1000).toFixed(2)} µs)`,
  `decide() (route + weighted pick), ${RULES} rules:     ${best('decide').toFixed(0)} ns/request`,
  `decide(), path needing normalisation:             ${best('decideDotted').toFixed(0)} ns/request (${(best('decideDotted') / best('decide')).toFixed(2)}x decide())`,
];
for (const l of lines) console.log(l);

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '../results/policy.md');
mkdirSync(dirname(out), { recursive: true });
appendFileSync(
  out,
  `\n## ${new Date().toISOString()} — \`node bench/policy/match.mjs --rules ${RULES} --iterations ${N}\` (Node ${process.version}, best of 3)\n\n${lines.map((l) => `- ${l}`).join('\n')}\n`,
);
