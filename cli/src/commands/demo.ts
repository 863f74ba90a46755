/**
 * `weft demo` (what `npm start` runs): a whole mesh on this machine, as real
 * processes — a control plane on SQLite, agents "a" and "b", two instances of
 * "orders" behind agent b and a caller "web" behind agent a that calls orders
 * through the mesh — with a live view of the traffic.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_NODE_FLAGS } from '@weft/agent';
import { DefaultPorts, parseDuration } from '@weft/shared';
import type { Command } from 'commander';
import { CliError, parseFlag } from '../cli-error.js';
import { spawnNode, spawnWeft, WEFT_BIN, type WeftProcess } from '../demo/weft-process.js';

const DEMO_SERVICE = join(dirname(fileURLToPath(import.meta.url)), '../demo/demo-service.js');

interface CallerStats {
  ok: number;
  failed: number;
  byInstance: Record<string, number>;
  errors: Record<string, number>;
  p50: number;
  p99: number;
}

export function demoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a local mesh with demo services and a live view of the traffic (npm start)')
    .option('--duration <duration>', 'stop by itself after this long (default: run until Ctrl-C)')
    .option('--data-dir <dir>', 'where the demo keeps its databases and logs (emptied of them at start)', '.weft/demo')
    .option(
      '--ports-from <port>',
      `use 8 consecutive ports from this one instead of the defaults (${DefaultPorts.controlPlaneGrpc}, ${DefaultPorts.controlPlaneHttp}, ${DefaultPorts.agentAdmin}-...)`,
    )
    .action(async (o: { duration?: string; dataDir: string; portsFrom?: string }) => {
      const durationMs = o.duration === undefined ? undefined : parseFlag(() => parseDuration(o.duration, '--duration'));
      const ports = demoPorts(o.portsFrom);
      const dir = resolve(o.dataDir);
      freshDemoDir(dir);
      await runDemo(dir, durationMs, ports);
    });
}

interface DemoPorts {
  grpc: number;
  http: number;
  a: [admin: number, outbound: number, inbound: number];
  b: [admin: number, outbound: number, inbound: number];
}

function demoPorts(from: string | undefined): DemoPorts {
  if (from === undefined)
    return {
      grpc: DefaultPorts.controlPlaneGrpc,
      http: DefaultPorts.controlPlaneHttp,
      a: [DefaultPorts.agentAdmin, DefaultPorts.agentOutbound, DefaultPorts.agentInbound],
      b: [15100, 15101, 15106],
    };
  const n = Number(from);
  if (!/^\d+$/.test(from) || n < 1024 || n + 7 > 65535) throw new CliError('--ports-from: expected a port from 1024 to 65528', 2);
  return { grpc: n, http: n + 1, a: [n + 2, n + 3, n + 4], b: [n + 5, n + 6, n + 7] };
}

/** What a demo run leaves in its dir; removed at start so no registration, config or log carries over between runs. */
const DEMO_STATE = /^(control-plane|agent-[ab]|.*\.log|dashboard\.token)$/;

function freshDemoDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(dir)) if (DEMO_STATE.test(name)) rmSync(join(dir, name), { recursive: true, force: true });
}

/** Resolves once agent b holds every orders instance synced to the control plane and passing its health check. */
async function waitForOrders(adminPort: number, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/v1/services`);
      const body = (await res.json()) as { services: { service: string; synced: boolean; health: string }[] };
      if (body.services.filter((s) => s.service === 'orders' && s.synced && s.health === 'passing').length >= count) return;
    } catch {
      // agent b not answering yet
    }
    if (Date.now() > deadline) throw new Error(`the orders instances were not registered and passing within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runDemo(dir: string, durationMs: number | undefined, ports: DemoPorts): Promise<void> {
  const started: WeftProcess[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the demo mesh…');
    for (const p of [...started].reverse()) await p.stop('SIGTERM', 5000);
    console.log(`stopped. logs are in ${dir}`);
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  const log = (name: string) => ({ logFile: join(dir, `${name}.log`) });
  const cpAddr = `127.0.0.1:${ports.grpc}`;
  try {
    console.log('starting a local Weft mesh (logs in %s)', dir);
    started.push(
      await spawnWeft(
        [
          'control-plane',
          '--data-dir',
          join(dir, 'control-plane'),
          '--host',
          '127.0.0.1',
          '--lease-ttl',
          '10s',
          '--grpc-port',
          String(ports.grpc),
          '--http-port',
          String(ports.http),
        ],
        log('control-plane'),
      ),
    );
    const cpDir = join(dir, 'control-plane');
    // Secure by default: each agent enrols with a join token made by the real `weft token create`.
    const joinToken = (agentId: string) =>
      weft(['--control-plane-data-dir', cpDir, 'token', 'create', '--agent-id', agentId, '--control-plane', cpAddr]);
    const tokens = { a: await joinToken('agent-a'), b: await joinToken('agent-b') };
    // The control plane's HTTP reads need a token, from this host too: a read token for the dashboard and curl.
    const readTokenFile = join(dir, 'dashboard.token');
    const readToken = await weft([
      '--control-plane-data-dir',
      cpDir,
      'token',
      'create',
      '--kind',
      'read',
      '--description',
      'demo dashboard',
      '--control-plane',
      cpAddr,
    ]);
    writeFileSync(readTokenFile, `${readToken}\n`, { mode: 0o600 });
    console.log(`  control plane  gRPC+TLS ${cpAddr}, HTTP http://127.0.0.1:${ports.http}/v1/services (reads need a token)`);
    console.log(`  dashboard      http://127.0.0.1:${ports.http}/ui/   (open it in a browser, sign in with the read token below)`);
    console.log(`  read token     ${readToken}   (also in ${readTokenFile})`);
    const agentArgs = (name: 'a' | 'b', admin: number, outbound: number, inbound: number) => [
      'agent',
      '--control-plane',
      cpAddr,
      '--agent-id',
      `agent-${name}`,
      '--data-dir',
      join(dir, `agent-${name}`),
      '--advertise-address',
      '127.0.0.1',
      '--admin-port',
      String(admin),
      '--outbound-port',
      String(outbound),
      '--inbound-port',
      String(inbound),
      '--join-token',
      tokens[name],
    ];
    // Under the node flags the agent is tuned for, as the systemd unit starts it.
    const agentProcess = (name: 'a' | 'b') => ({ ...log(`agent-${name}`), nodeFlags: AGENT_NODE_FLAGS });
    started.push(await spawnWeft(agentArgs('a', ...ports.a), agentProcess('a')));
    console.log(`  agent a        outbound 127.0.0.1:${ports.a[1]}, admin 127.0.0.1:${ports.a[0]}`);
    started.push(await spawnWeft(agentArgs('b', ...ports.b), agentProcess('b')));
    console.log(`  agent b        outbound 127.0.0.1:${ports.b[1]}, admin 127.0.0.1:${ports.b[0]}, inbound 127.0.0.1:${ports.b[2]}`);
    for (const instance of ['orders-1', 'orders-2']) {
      // Each callee logs `ready` once it has registered.
      started.push(
        await spawnNode(
          DEMO_SERVICE,
          ['callee', '--name', 'orders', '--instance', instance, '--agent', `127.0.0.1:${ports.b[0]}`],
          log(instance),
        ),
      );
    }
    // The caller starts only once the control plane has orders and its instances pass their checks, so its first
    // requests do not meet unknown_service or no_healthy_endpoint.
    await waitForOrders(ports.b[0], 2, 20_000);
    console.log('  orders         2 instances behind agent b (orders-1, orders-2)');
    // Access policy is enforced by default: orders lets web in and keeps /admin from everyone (the mesh default admits the rest).
    const accessFile = join(dir, 'access.yaml');
    writeFileSync(accessFile, DEMO_ACCESS);
    await weft(['--control-plane-data-dir', cpDir, 'apply', '-f', accessFile, '--control-plane', cpAddr]);
    console.log('  access         AccessPolicy orders: allow web, deny /admin to everyone (enforced by agent b)');
    let seconds = 0;
    const caller = await spawnNode(
      DEMO_SERVICE,
      ['caller', '--target', 'orders', '--proxy', `127.0.0.1:${ports.a[1]}`, '--agent', `127.0.0.1:${ports.a[0]}`],
      { ...log('web'), waitReady: false, onStdout: (line) => printStats(++seconds, line) },
    );
    started.push(caller);
    console.log(
      '  web            calls http://orders/hello with its proxy credential through agent a → mTLS (TLS 1.3, as svc/web) → agent b → orders\n',
    );
    console.log('try it yourself (in another terminal):');
    console.log(`  curl -x http://127.0.0.1:${ports.a[1]} http://orders/hello        # as agent-a (no credential)`);
    console.log(`  curl -x http://127.0.0.1:${ports.a[1]} http://orders/admin        # 403 forbidden; policy=orders/1`);
    console.log(`  weft register --name web --port 9 --agent 127.0.0.1:${ports.a[0]}   # prints HTTP_PROXY=http://web:<secret>@…`);
    console.log(`  curl -H 'Host: orders' http://127.0.0.1:${ports.a[1]}/hello`);
    console.log(`  curl -H "authorization: Bearer $(cat ${readTokenFile})" http://127.0.0.1:${ports.http}/v1/services`);
    console.log(`  export WEFT_CONTROL_PLANE_DATA_DIR=${cpDir}   # bootstrap operator token and CA bundle`);
    const cpFlag = ports.grpc === DefaultPorts.controlPlaneGrpc ? '' : ` --control-plane ${cpAddr}`;
    console.log(`  weft services${cpFlag}    weft status${cpFlag}    (in this checkout: npx weft …)\n`);
    console.log(durationMs === undefined ? 'live traffic (Ctrl-C stops everything):' : `live traffic for ${durationMs / 1000}s:`);
    if (durationMs !== undefined) setTimeout(() => void stopAll(0), durationMs);
  } catch (err) {
    console.error(`weft demo: ${(err as Error).message}`);
    console.error(`(are ports ${[ports.grpc, ports.http, ...ports.a, ...ports.b].join(', ')} free? --ports-from N uses N..N+7)`);
    await stopAll(1);
  }
}

const DEMO_ACCESS = `apiVersion: weft.dev/v1
kind: AccessPolicy
metadata:
  service: orders
rules:
  - name: web-calls
    action: allow
    from: [web]
    match:
      path: { prefix: /hello }
  - name: no-admin
    action: deny
    from: ["*"]
    match:
      path: { prefix: /admin }
`;

/** Runs `weft <args>` to completion and resolves with its stdout (trimmed). */
function weft(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [WEFT_BIN, ...args], { timeout: 20_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`weft ${args.slice(2, 4).join(' ')} failed: ${stderr.trim() || err.message}`)) : resolve(stdout.trim()),
    ),
  );
}

function printStats(second: number, line: string): void {
  let s: CallerStats;
  try {
    s = JSON.parse(line) as CallerStats;
  } catch {
    return;
  }
  const total = s.ok + s.failed;
  const rate = total ? ((100 * s.ok) / total).toFixed(1) : '-';
  const split = Object.entries(s.byInstance)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([i, n]) => `${i} ${String(n).padStart(3)}`)
    .join('  ');
  const errors = Object.entries(s.errors)
    .map(([e, n]) => `${e}×${n}`)
    .join(' ');
  console.log(
    `[${String(second).padStart(3)}s] web → orders  ${String(total).padStart(3)} req/s  ok ${rate}%  | ${split || 'no answers yet'}  | p50 ${s.p50.toFixed(1)}ms p99 ${s.p99.toFixed(1)}ms${errors ? `  | errors: ${errors}` : ''}`,
  );
}
