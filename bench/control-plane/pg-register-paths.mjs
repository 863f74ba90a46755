#!/usr/bin/env node
import { openPostgresStore } from '../../control-plane/dist/store/postgres/pg-backend.js';
import { commitRegisterBatchInDatabase } from '../../control-plane/dist/store/postgres/pg-register-function.js';
/**
 * Store-level benchmark of the two PostgreSQL paths for a batch of registrations,
 * measured in the same run against the same schema so their ratio is meaningful
 * on a shared machine:
 *   - `weft_register_batch`: one statement, the commit lock taken inside the database
 *     (control-plane/src/store/postgres/pg-register-function.ts);
 *   - `two round trips under the lock`: the fallback (pg-register-batch.ts), reached
 *     through PgRegistryStore's private commitOnce(writes, true).
 * No gRPC, no control-plane process: what the store can take. Each configuration runs
 * `--connections` concurrent callers (as many replicas), `--batches` batches each of
 * `--size` registrations (one new instance each, 200 agents, 50 services), alternating
 * the paths twice. Prints one JSON line per configuration.
 *
 *   npm run build
 *   psql -h 127.0.0.1 -U postgres -d test -c 'CREATE SCHEMA weft_bench_paths'
 *   node bench/control-plane/pg-register-paths.mjs 'postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3Dweft_bench_paths'
 *   psql -h 127.0.0.1 -U postgres -d test -c 'DROP SCHEMA weft_bench_paths CASCADE'
 */
import { silentLogger } from '../../shared/dist/index.js';

const url = process.argv[2];
if (!url?.startsWith('postgres')) {
  console.error('usage: pg-register-paths.mjs postgres://…?options=-c%20search_path%3D<throwaway schema>');
  process.exit(2);
}
const CONFIGS = [
  { connections: 1, batches: 100, size: 10 },
  { connections: 3, batches: 100, size: 10 },
  { connections: 3, batches: 50, size: 30 },
];

const store = await openPostgresStore(url, silentLogger);
const agent = (i) => ({ agentId: `a${i}`, hostname: 'h', address: '10.0.0.1', inboundPort: 15006, zone: '', version: '1' });
const spec = (k) => ({
  service: `s-${k % 50}`,
  instanceId: `i-${k}`,
  address: '127.0.0.1',
  port: 1024 + (k % 60_000),
  zone: '',
  weight: 1,
  tags: [],
  metadata: {},
  health: 'passing',
  protocol: 'http',
});
let k = 0;
const batch = (n) =>
  Array.from({ length: n }, () => {
    k++;
    return { op: 'register', agent: agent(k % 200), instances: [spec(k)], replaceAll: false, lease: 1 };
  });

async function run({ connections, batches, size }, path) {
  const clients = await Promise.all(Array.from({ length: connections }, () => store.db.connect()));
  const times = [];
  const t0 = performance.now();
  try {
    await Promise.all(
      clients.map(async (c) => {
        for (let b = 0; b < batches; b++) {
          const s = performance.now();
          if (path === 'weft_register_batch') await commitRegisterBatchInDatabase(c, batch(size), 0, undefined);
          else await store.registry.commitOnce(batch(size), true);
          times.push(performance.now() - s);
        }
      }),
    );
  } finally {
    for (const c of clients) c.release();
  }
  const ms = performance.now() - t0;
  times.sort((a, b) => a - b);
  const pct = (p) => Math.round(times[Math.min(times.length - 1, Math.floor(times.length * p))] * 10) / 10;
  return {
    path,
    connections,
    size,
    writesPerS: Math.round(((connections * batches * size) / ms) * 1000),
    batchMs: { p50: pct(0.5), p90: pct(0.9) },
  };
}

try {
  for (let round = 0; round < 2; round++) {
    for (const config of CONFIGS) {
      for (const path of ['weft_register_batch', 'two round trips under the lock']) console.log(JSON.stringify(await run(config, path)));
    }
  }
} finally {
  await store.close();
}
