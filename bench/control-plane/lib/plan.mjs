/**
 * The deterministic shape of a run: which agent owns which endpoint, which
 * services each agent subscribes to. Endpoint j is instance "i-<j>" of service
 * "svc-<j mod V>", owned by agent "bench-agent-<j mod N>" (so every
 * registering host is also a simulated agent holding a stream, and no lease
 * lapses). Agent i subscribes to S distinct services drawn from a seeded PRNG.
 */
import { prng } from './stats.mjs';

export function agentInfo(i) {
  return {
    agent_id: `bench-agent-${i}`,
    hostname: `bench-host-${i}`,
    address: '127.0.0.1',
    inbound_port: 20_000 + (i % 40_000),
    zone: `zone-${i % 3}`,
    version: 'bench',
  };
}

export function makePlan({ agents, services, endpoints, subscriptions }) {
  const infos = Array.from({ length: agents }, (_, i) => agentInfo(i));
  const eps = Array.from({ length: endpoints }, (_, j) => ({
    owner: j % agents,
    spec: {
      service: `svc-${j % services}`,
      instance_id: `i-${j}`,
      address: '127.0.0.1',
      port: 1024 + (j % 60_000),
      zone: '',
      weight: 1 + (j % 10),
      tags: ['bench'],
      metadata: { plan: 'seed' },
      health: 'HEALTH_PASSING',
    },
  }));
  const byOwner = Array.from({ length: agents }, () => []);
  for (const ep of eps) byOwner[ep.owner].push(ep);
  const subs = [];
  const subscribers = new Map();
  for (let i = 0; i < agents; i++) {
    const rnd = prng(0x5eed + i);
    const chosen = new Set();
    while (chosen.size < subscriptions) chosen.add(Math.floor(rnd() * services));
    const names = [...chosen].sort((a, b) => a - b).map((k) => `endpoints/svc-${k}`);
    subs.push(names);
    for (const k of chosen) {
      const svc = `svc-${k}`;
      if (!subscribers.has(svc)) subscribers.set(svc, []);
      subscribers.get(svc).push(i);
    }
  }
  return { infos, endpoints: eps, byOwner, subs, subscribers };
}
