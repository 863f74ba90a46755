/**
 * Command-line flags of the control-plane benchmark. Every flag has a default
 * so `node bench/control-plane/run.mjs` alone runs a small, complete benchmark.
 * A bad value names the flag and stops before anything is started.
 */
export const FLAG_SPECS = {
  agents: { default: 200, help: 'simulated agents, each with its own discovery stream' },
  services: { default: 200, help: 'services the seeded endpoints are spread over' },
  endpoints: { default: 2000, help: 'endpoints seeded before the agents connect' },
  subscriptions: { default: 20, help: 'services each agent subscribes to' },
  churn: { default: 100, help: 'endpoint changes per second during the churn phase' },
  duration: { default: 15, help: 'seconds of churn' },
  registrations: { default: 2000, help: 'Register calls in the registration burst' },
  'warmup-registrations': {
    default: 0,
    help: 'Register calls made before the burst and not counted (the JIT optimises the registration path first)',
  },
  concurrency: { default: 64, help: 'concurrent Register calls (seeding and burst)' },
  'agents-per-channel': {
    default: 1,
    help: 'simulated agents (streams) per gRPC channel / HTTP/2 connection (1 = one connection per agent, as real agents)',
  },
  replicas: {
    default: 1,
    help: 'control-plane processes; agents are spread over them, changes are written through the first (needs --store when > 1)',
  },
  'lease-ttl': { default: 120, help: 'control-plane --lease-ttl in seconds (covers seeding until the agents connect)' },
  'settle-ms': { default: 5000, help: 'after churn: how long to wait for late deliveries before counting them missed' },
  'timeout-s': { default: 0, help: 'hard limit for the whole run; 0 = computed from the other flags' },
  'cp-cpu-prof-replica': {
    default: 0,
    help: 'with --cp-cpu-prof: the replica to profile (0 writes the changes; the others apply them from notices and catch-up reads)',
  },
};

export const STRING_FLAGS = {
  store: { default: '', help: 'postgres://… store shared by the replicas (weft control-plane --store); default: SQLite in the data dir' },
  'cp-node-flags': {
    default: '',
    value: 'flags',
    help: 'node/V8 flags for every control-plane process, split on spaces (e.g. --min-semi-space-size=16); default none',
  },
  'burst-client': {
    default: 'codec',
    value: 'name',
    help: "client of the registration burst: codec (lean gRPC calls on the project's HTTP/2 codec, lib/h2-unary.mjs), h2 (the same calls on node:http2) or grpc-js (the client real agents use)",
  },
};

export const BOOLEAN_FLAGS = {
  'cp-cpu-prof': 'profile one control-plane process (--cp-cpu-prof-replica) with --cpu-prof and print the hottest functions per phase',
  'no-results': 'do not append to bench/results/control-plane.md',
  help: 'print this help',
};

export function usage() {
  const lines = ['usage: node bench/control-plane/run.mjs [flags]', ''];
  for (const [name, spec] of Object.entries(FLAG_SPECS))
    lines.push(`  --${name} <n>`.padEnd(30) + `${spec.help} (default ${spec.default})`);
  for (const [name, spec] of Object.entries(STRING_FLAGS))
    lines.push(`  --${name} <${spec.value ?? 'url'}>`.padEnd(30) + `${spec.help}${spec.default ? ` (default ${spec.default})` : ''}`);
  for (const [name, help] of Object.entries(BOOLEAN_FLAGS)) lines.push(`  --${name}`.padEnd(30) + help);
  return lines.join('\n');
}

/** Parses argv into { agents, services, ..., cpCpuProf, noResults, help }; throws an Error naming the flag. */
export function parseFlags(argv) {
  const out = {};
  for (const [name, spec] of Object.entries(FLAG_SPECS)) out[camel(name)] = spec.default;
  for (const name of Object.keys(BOOLEAN_FLAGS)) out[camel(name)] = false;
  for (const [name, spec] of Object.entries(STRING_FLAGS)) out[camel(name)] = spec.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(arg)} (flags start with --)`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (name in BOOLEAN_FLAGS) {
      if (eq >= 0) throw new Error(`--${name} takes no value`);
      out[camel(name)] = true;
      continue;
    }
    if (name in STRING_FLAGS) {
      const raw = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (raw === undefined || raw === '') throw new Error(`--${name}: needs a value`);
      out[camel(name)] = raw;
      continue;
    }
    if (!(name in FLAG_SPECS)) throw new Error(`unknown flag --${name}\n\n${usage()}`);
    const raw = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    const n = Number(raw);
    if (raw === undefined || raw === '' || !Number.isFinite(n) || n < 0)
      throw new Error(`--${name}: must be a non-negative number, got ${JSON.stringify(raw)}`);
    out[camel(name)] = n;
  }
  for (const k of ['agents', 'services', 'endpoints', 'subscriptions', 'agentsPerChannel', 'concurrency', 'replicas']) {
    if (!Number.isInteger(out[k]) || out[k] < 1) throw new Error(`--${kebab(k)}: must be a whole number >= 1, got ${out[k]}`);
  }
  if (!Number.isInteger(out.warmupRegistrations)) throw new Error('--warmup-registrations: must be a whole number');
  if (out.endpoints < out.services) throw new Error(`--endpoints: must be >= --services (${out.services}) so every service exists`);
  if (out.subscriptions > out.services) throw new Error(`--subscriptions: must be <= --services (${out.services})`);
  if (out.store && !/^postgres(ql)?:\/\//.test(out.store)) throw new Error('--store: expected a postgres:// URL');
  out.cpNodeFlags = out.cpNodeFlags.split(' ').filter(Boolean);
  for (const f of out.cpNodeFlags)
    if (!f.startsWith('--')) throw new Error(`--cp-node-flags: each flag starts with --, got ${JSON.stringify(f)}`);
  if (!['codec', 'h2', 'grpc-js'].includes(out.burstClient))
    throw new Error(`--burst-client: codec, h2 or grpc-js, got ${JSON.stringify(out.burstClient)}`);
  if (out.replicas > 1 && !out.store)
    throw new Error(
      '--replicas: more than one control plane needs a shared --store postgres://… (a SQLite data dir is locked by one process)',
    );
  if (out.replicas > out.agents) throw new Error(`--replicas: must be <= --agents (${out.agents})`);
  if (!Number.isInteger(out.cpCpuProfReplica) || out.cpCpuProfReplica >= out.replicas)
    throw new Error(`--cp-cpu-prof-replica: must be a replica number 0..${out.replicas - 1}, got ${out.cpCpuProfReplica}`);
  if (out.duration <= 0) throw new Error('--duration: must be > 0');
  return out;
}

function camel(s) {
  return s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}

function kebab(s) {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
