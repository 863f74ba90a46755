import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { WEFT_BIN } from '@weft/cli/demo/weft-process';
import { CONTROL_PLANE_TLS_OPTIONS, LATENCY_LAYOUT, loadWeftProto } from '@weft/shared';
import type { TelemetryClient } from '@weft/shared/generated/weft/v1/Telemetry';
import {
  type AgentProc,
  type ControlPlaneProc,
  getJson,
  Mesh,
  registerWith,
  send,
  servicesAtControlPlane,
  viaProxy,
  waitFor,
} from './harness.js';

interface Golden {
  requestsPerSecond: number;
  successRate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
}
interface Stats {
  windowSeconds: number;
  resolutionSeconds: number;
  generatedAtMs: number;
  services: ({ service: string } & Golden)[];
  edges: ({ source: string; destination: string } & Golden)[];
}
interface Series {
  resolutionSeconds: number;
  points: { tMs: number; requestsPerSecond: number; successRate: number | null; p50Ms: number | null; p99Ms: number | null }[];
}

function weft(...args: string[]) {
  return spawnSync(process.execPath, [WEFT_BIN, ...args], { encoding: 'utf8', timeout: 20_000 });
}

/** Requests counted over a window: the API gives rates, the test knows the window. */
const countOf = (rps: number, seconds: number) => Math.round(rps * seconds);

const SUCCESSES = 7;
const APP_ERRORS = 3;
const MESH_ERRORS = 2;
const TOTAL = SUCCESSES + APP_ERRORS + MESH_ERRORS;
const BODY = 'hello';

describe('golden metrics: agents report, the control plane serves /v1/stats, weft stat and weft top show them', () => {
  const mesh = new Mesh();
  let cp: ControlPlaneProc;
  let a: AgentProc;
  const timers = new Set<NodeJS.Timeout>();

  before(async () => {
    cp = await mesh.controlPlane();
    a = await mesh.agent('agent-a', cp.grpcPort, ['--stats-interval', '300ms']);
    const b = await mesh.agent('agent-b', cp.grpcPort, ['--stats-interval', '300ms']);
    const orders = await mesh.service((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url === '/fail') {
          res.statusCode = 500;
          res.end('app failure');
        } else if (req.url === '/slow') {
          // Longer than the caller's budget: the mesh answers upstream_timeout.
          const t = setTimeout(() => res.end('late'), 3_000);
          timers.add(t);
          res.on('close', () => clearTimeout(t));
        } else res.end('ok');
      });
    });
    await registerWith(b, { name: 'orders', port: orders.port, id: 'orders-1' });
    await waitFor('orders at the control plane', async () => (await servicesAtControlPlane(cp)).get('orders')?.length === 1);

    // Exactly the traffic the assertions count: every request below is the first agent-a makes to orders.
    for (let i = 0; i < SUCCESSES; i++) {
      const r = await viaProxy(a.outboundPort, 'http://orders/ok', { method: 'POST', body: BODY });
      assert.equal(r.status, 200, r.body.toString());
    }
    for (let i = 0; i < APP_ERRORS; i++) {
      const r = await viaProxy(a.outboundPort, 'http://orders/fail', { method: 'POST' });
      assert.equal(r.status, 500);
      assert.equal(r.headers['x-weft-error'], undefined);
    }
    for (let i = 0; i < MESH_ERRORS; i++) {
      const r = await viaProxy(a.outboundPort, 'http://orders/slow', { headers: { 'x-weft-timeout-ms': '300' } });
      assert.equal(r.headers['x-weft-error'], 'upstream_timeout');
    }
    // A service nobody registered: a mesh error with no destination, kept out of the golden metrics (in /metrics only).
    const unknown = await viaProxy(a.outboundPort, 'http://nosuch/x');
    assert.equal(unknown.headers['x-weft-error'], 'unknown_service');

    await waitFor(
      'every request reported',
      async () => {
        const s = await getJson<Stats>(cp.httpPort, '/v1/stats?window=60s');
        const o = s.services.find((x) => x.service === 'orders');
        return o !== undefined && countOf(o.requestsPerSecond, 60) === TOTAL;
      },
      20_000,
    );
  });
  after(async () => {
    for (const t of timers) clearTimeout(t);
    await mesh.close();
  });

  test('/v1/stats counts each request once, at the caller, with its success rate, latency and bytes', async () => {
    const s = await getJson<Stats>(cp.httpPort, '/v1/stats?window=60s');
    assert.equal(s.windowSeconds, 60);
    assert.equal(s.resolutionSeconds, 10);
    assert.ok(Math.abs(s.generatedAtMs - Date.now()) < 60_000);
    assert.deepEqual(
      s.services.map((x) => x.service),
      ['orders'],
      'only resolved destinations; the unknown service is not one',
    );
    const orders = s.services[0]!;
    assert.equal(countOf(orders.requestsPerSecond, 60), TOTAL, 'counted by agent-a only, not again by agent-b');
    assert.equal(orders.successRate, Math.round((SUCCESSES / TOTAL) * 1e6) / 1e6);
    assert.ok(orders.p50Ms !== null && orders.p50Ms > 0 && orders.p50Ms < 300, `p50 ${orders.p50Ms}`);
    assert.ok(orders.p99Ms !== null && orders.p99Ms >= 200, `p99 ${orders.p99Ms}: the two timed-out requests took ~300 ms`);
    assert.equal(countOf(orders.bytesInPerSecond, 60), SUCCESSES * BODY.length);
    // The apps' bodies, plus the mesh's own answers to the timed-out requests.
    assert.ok(countOf(orders.bytesOutPerSecond, 60) >= SUCCESSES * 'ok'.length + APP_ERRORS * 'app failure'.length);

    assert.equal(s.edges.length, 1);
    const edge = s.edges[0]!;
    assert.equal(edge.source, 'agent:agent-a', 'an unattributed local caller is labelled with its agent');
    assert.equal(edge.destination, 'orders');
    assert.equal(countOf(edge.requestsPerSecond, 60), TOTAL);
    assert.equal(edge.successRate, orders.successRate);
  });

  test('the series has one point per 10 s slot and adds up to the same counts, per service and per edge', async () => {
    const series = await getJson<Series>(cp.httpPort, '/v1/stats/series?service=orders&window=15m');
    assert.equal(series.resolutionSeconds, 10);
    assert.equal(series.points.length, 90);
    for (let i = 1; i < series.points.length; i++) assert.equal(series.points[i]!.tMs - series.points[i - 1]!.tMs, 10_000);
    const total = (pts: Series['points']) => pts.reduce((n, p) => n + countOf(p.requestsPerSecond, 10), 0);
    assert.equal(total(series.points), TOTAL);
    assert.ok(series.points.some((p) => p.successRate !== null && p.p99Ms !== null));
    assert.ok(series.points.filter((p) => p.requestsPerSecond === 0).every((p) => p.successRate === null && p.p50Ms === null));

    const edge = await getJson<Series>(cp.httpPort, '/v1/stats/series?service=orders&source=agent:agent-a&window=60s');
    assert.equal(edge.points.length, 6);
    assert.equal(total(edge.points), TOTAL);
    const none = await getJson<Series>(cp.httpPort, '/v1/stats/series?service=orders&source=web&window=60s');
    assert.equal(total(none.points), 0);
  });

  test('bad parameters are a 400 naming the parameter, with x-weft-error', async () => {
    for (const [path, field] of [
      ['/v1/stats?window=7s', 'window'],
      ['/v1/stats?window=16m', 'window'],
      ['/v1/stats?window=soon', 'window'],
      ['/v1/stats/series?window=60s', 'service'],
    ] as const) {
      const r = await send({ port: cp.httpPort, path });
      assert.equal(r.status, 400, path);
      assert.equal(r.headers['x-weft-error'], 'invalid_argument', path);
      assert.match(r.body.toString(), new RegExp(`${field}:`), path);
    }
  });

  test('weft stat --json and weft stat SERVICE show the same figures', () => {
    const api = `127.0.0.1:${cp.httpPort}`;
    const all = weft('stat', '--api', api, '--window', '1m', '--json');
    assert.equal(all.status, 0, all.stderr);
    const s = JSON.parse(all.stdout) as Stats;
    assert.equal(countOf(s.services[0]!.requestsPerSecond, 60), TOTAL);

    const one = weft('stat', 'orders', '--api', api, '--json');
    assert.equal(one.status, 0, one.stderr);
    const o = JSON.parse(one.stdout) as Stats & { inbound: Stats['edges']; outbound: Stats['edges'] };
    assert.equal(o.services.length, 1);
    assert.equal(o.services[0]!.successRate, Math.round((SUCCESSES / TOTAL) * 1e6) / 1e6);
    assert.deepEqual(
      o.inbound.map((e) => [e.source, countOf(e.requestsPerSecond, 60)]),
      [['agent:agent-a', TOTAL]],
    );
    assert.deepEqual(o.outbound, []);

    const text = weft('stat', 'orders', '--api', api);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^orders\s+58\.33%\s+0\.20rps/m);
    assert.match(text.stdout, /inbound edges of orders[\s\S]*agent:agent-a\s+58\.33%/);

    const bad = weft('stat', '--api', api, '--window', 'later');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--window/);
  });

  test('weft top prints one frame when its output is not a terminal', () => {
    const r = weft('top', '--api', `127.0.0.1:${cp.httpPort}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^weft top/);
    assert.match(r.stdout, /^orders\s+58\.33%\s+0\.20rps\s+\S+ms\s+\S+ms$/m);
    assert.match(r.stdout, /^agent:agent-a\s+orders\s+58\.33%/m);
  });

  test('Telemetry.Report takes the agent from its certificate and refuses anyone else', async () => {
    const agentX = await mesh.agentClients(cp.grpcPort, 'agent-x');
    const addr = `127.0.0.1:${cp.grpcPort}`;
    const Telemetry = loadWeftProto().Telemetry;
    const asAgent: TelemetryClient = new Telemetry(
      addr,
      mesh.tlsTo(cp.grpcPort, { keyPem: agentX.keyPem, certificatePem: agentX.certificatePem }),
      CONTROL_PLANE_TLS_OPTIONS,
    );
    const op = mesh.operator(cp.grpcPort);
    const asOperator: TelemetryClient = new Telemetry(addr, op.credentials, CONTROL_PLANE_TLS_OPTIONS);
    const report = (agentId: string, destination: string) => ({
      agent_id: agentId,
      latency_layout: LATENCY_LAYOUT,
      interval_ms: 1000,
      edges: [
        {
          source: 'web',
          destination,
          outcome: 'OUTCOME_SUCCESS' as const,
          requests: 4,
          bytes_in: 0,
          bytes_out: 0,
          latency_buckets: [0, 4],
        },
      ],
    });
    const call = (c: TelemetryClient, req: ReturnType<typeof report>, md = new grpc.Metadata()) =>
      new Promise<grpc.ServiceError | null>((resolve) => c.Report(req, md, (err) => resolve(err)));
    try {
      const claimed = await call(asAgent, report('agent-a', 'claimed'));
      assert.equal(claimed?.code, grpc.status.PERMISSION_DENIED);
      assert.match(claimed?.details ?? '', /agent_id/);
      const byOperator = await call(asOperator, report('', 'operator'), op.metadata);
      assert.equal(byOperator?.code, grpc.status.PERMISSION_DENIED);
      const badLayout = await call(asAgent, { ...report('', 'layout'), latency_layout: 'other' });
      assert.equal(badLayout?.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(await call(asAgent, report('', 'billing')), null);
      const s = await getJson<Stats>(cp.httpPort, '/v1/stats?window=60s');
      assert.deepEqual(
        s.services.map((x) => x.service),
        ['billing', 'orders'],
        'only the accepted report was filed',
      );
      const billing = s.edges.find((e) => e.destination === 'billing');
      assert.equal(billing?.source, 'web');
      assert.equal(countOf(billing!.requestsPerSecond, 60), 4);
      assert.equal(billing?.p50Ms, 1.5, 'four requests in the 1..2 ms bucket: the median interpolates to its middle');
      const cpMetrics = (await send({ port: cp.httpPort, path: '/metrics' })).body.toString();
      assert.match(cpMetrics, /^weft_cp_stats_reports_total\{result="refused"\} 2$/m);
      assert.match(cpMetrics, /^weft_cp_stats_reports_total\{result="accepted"\} [1-9]\d*$/m);
      assert.match(cpMetrics, /^weft_cp_stats_dropped_rows 0$/m);
    } finally {
      asAgent.close();
      asOperator.close();
      agentX.close();
    }
  });

  test('the agent /metrics labels requests with their source and follows Linkerd names', async () => {
    const m = (await send({ port: a.adminPort, path: '/metrics' })).body.toString();
    assert.match(
      m,
      new RegExp(
        `^response_total\\{direction="outbound",dst_service="orders",src_service="agent:agent-a",status_code="200",classification="success",error=""\\} ${SUCCESSES}$`,
        'm',
      ),
    );
    assert.match(
      m,
      new RegExp(
        `^response_total\\{direction="outbound",dst_service="orders",src_service="agent:agent-a",status_code="500",classification="app_error",error=""\\} ${APP_ERRORS}$`,
        'm',
      ),
    );
    assert.match(
      m,
      /^response_total\{direction="outbound",dst_service="orders",src_service="agent:agent-a",status_code="\d+",classification="mesh_error",error="upstream_timeout"\} 2$/m,
    );
    assert.match(
      m,
      new RegExp(`^response_latency_ms_count\\{direction="outbound",dst_service="orders",src_service="agent:agent-a"\\} ${TOTAL}$`, 'm'),
    );
  });
});
