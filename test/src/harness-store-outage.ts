/**
 * What the end-to-end tests of a PostgreSQL store going away share: a real
 * control plane on the store, one agent, an `orders` service under steady
 * load, a registrar that records every registration the agent acknowledges,
 * and the checks every such test makes (the agent says why it is unsynced,
 * `weft apply` is refused naming the store, nothing acknowledged is lost).
 * How the store goes away and comes back is each test's own.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  type AgentProc,
  type ControlPlaneProc,
  echoHandler,
  getJson,
  Mesh,
  postJson,
  runWeft,
  servicesAtControlPlane,
  viaProxy,
  waitFor,
} from './harness.js';
import { type LoadReport, SteadyLoad } from './harness-faults.js';

interface SyncView {
  synced?: boolean;
  syncError?: string | null;
}

export class StoreOutageMesh {
  /** Ids of the registrations the agent acknowledged (201), in order. */
  readonly acknowledged: string[] = [];
  /** Registrations attempted so far. */
  attempted = 0;

  private constructor(
    readonly mesh: Mesh,
    readonly cp: ControlPlaneProc,
    readonly agent: AgentProc,
    readonly load: SteadyLoad,
    private readonly storeUrl: string,
    private readonly churnPort: number,
  ) {}

  /**
   * Starts the mesh on `storeUrl`; `cleanup` gets its teardown steps (the
   * caller runs them newest first, so the load stops before the processes).
   */
  static async start(storeUrl: string, cleanup: (() => Promise<unknown>)[]): Promise<StoreOutageMesh> {
    const mesh = new Mesh();
    cleanup.push(() => mesh.close());
    const cp = await mesh.controlPlane(StoreOutageMesh.options(storeUrl));
    const agent = await mesh.agent('a', cp.grpcPort);
    const orders = await mesh.service(echoHandler('orders-1'));
    const churn = await mesh.service(echoHandler('churn'));
    const r = await postJson(agent.adminPort, '/v1/services', { name: 'orders', port: orders.port, id: 'orders-1' });
    assert.equal(r.status, 201);
    await waitFor('orders routable', async () => (await viaProxy(agent.outboundPort, 'http://orders/')).status === 200);
    const load = new SteadyLoad(agent, 'http://orders/', 2, 10);
    // Stopped on every path: a failed assertion must not leave the load running and the test process alive.
    cleanup.push(() => load.stop());
    return new StoreOutageMesh(mesh, cp, agent, load, storeUrl, churn.port);
  }

  private static options(storeUrl: string) {
    return { restartGrace: '30s', leaseTtl: '30s', extra: ['--store', storeUrl] };
  }

  get cpAddress(): string {
    return `127.0.0.1:${this.cp.grpcPort}`;
  }

  /** Id of the last registration attempted. */
  get lastId(): string {
    return `churn-${this.attempted - 1}`;
  }

  /** Registers one more `churn` instance through the agent; records it when acknowledged. */
  async register(): Promise<{ status: number } | undefined> {
    const id = `churn-${this.attempted++}`;
    const r = await postJson(this.agent.adminPort, '/v1/services', { name: 'churn', port: this.churnPort, id }).catch(() => undefined);
    if (r?.status === 201) this.acknowledged.push(id);
    return r;
  }

  /** The agent's view of one of its registrations. */
  syncView(id = this.lastId): Promise<SyncView> {
    return getJson<SyncView>(this.agent.adminPort, `/v1/services/${id}`);
  }

  /**
   * The agent acknowledges at once and syncs in the background: its view of
   * the last registration must come to say why it is not synced. Returns that reason.
   */
  async unsyncedReason(what: string): Promise<string> {
    let view: SyncView = {};
    await waitFor(`the agent to say why a registration made ${what} is not synced`, async () => {
      view = await this.syncView();
      return view.synced === false && typeof view.syncError === 'string' && view.syncError.length > 0;
    });
    return view.syncError as string;
  }

  /**
   * Once the store is back: a registration made now is acknowledged and comes
   * to be synced. Each try registers one more and gives it `perTryMs` to sync
   * (the agent acknowledges at once and syncs in the background, so a view read
   * right after the 201 may not say synced yet). On timeout the message carries
   * the agent's last sync error and both processes' last log lines.
   */
  async expectSyncedAgain(t: TestContext, timeoutMs = 45_000, perTryMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: SyncView = {};
    while (Date.now() < deadline) {
      if ((await this.register())?.status === 201) {
        const id = this.lastId;
        const tryEnds = Math.min(deadline, Date.now() + perTryMs);
        while (Date.now() < tryEnds) {
          last = await this.syncView(id).catch(() => ({}));
          if (last.synced === true) return;
          await new Promise((r) => setTimeout(r, 100));
        }
      } else {
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    t.diagnostic(`control plane's last log lines:\n${this.cp.logLines.slice(-30).join('\n')}`);
    t.diagnostic(`agent's last log lines:\n${this.agent.logLines.slice(-30).join('\n')}`);
    assert.fail(`no registration synced within ${timeoutMs} ms of the store's return; the agent's last sync error: ${last.syncError}`);
  }

  /** Writes a Routes document for `orders` and applies it with the CLI. */
  apply(): Promise<{ code: number; stdout: string; stderr: string }> {
    const file = join(this.mesh.dir, 'routes.yaml');
    writeFileSync(
      file,
      'apiVersion: weft.dev/v1\nkind: Routes\nmetadata:\n  service: orders\nrules:\n  - name: all\n    route:\n      - tags: []\n',
    );
    return runWeft(['apply', '-f', file, '--control-plane', this.cpAddress]);
  }

  /** `weft apply` is refused because the store is unavailable, and the refusal matches `names` (the store). */
  async expectApplyRefused(t: TestContext, names: RegExp): Promise<void> {
    const apply = await this.apply();
    if (!/its store is unavailable/.test(apply.stderr)) {
      t.diagnostic(`control plane's last log lines:\n${this.cp.logLines.slice(-30).join('\n')}`);
    }
    assert.notEqual(apply.code, 0);
    assert.match(apply.stderr, /refused by the control plane at .*, its store is unavailable/);
    assert.match(apply.stderr, names, 'the refusal names the database');
    t.diagnostic(`weft apply refused: ${apply.stderr.trim().split('\n')[0]}`);
  }

  /** Stops the load: no proxied request may have failed. */
  async expectTrafficUnbroken(): Promise<LoadReport> {
    const report = await this.load.stop();
    assert.deepEqual(report.failures, [], 'proxied requests failed while PostgreSQL was away');
    return report;
  }

  /** Nothing acknowledged lost: a control plane started afresh on the store lists every acknowledged registration. */
  async expectNothingLost(): Promise<void> {
    await this.cp.stop('SIGKILL');
    const again = await this.mesh.controlPlane({
      ...StoreOutageMesh.options(this.storeUrl),
      dataDir: this.cp.dataDir,
      grpcPort: this.cp.grpcPort,
    });
    const present = new Set((await servicesAtControlPlane(again)).get('churn') ?? []);
    assert.deepEqual(
      this.acknowledged.filter((id) => !present.has(id)),
      [],
      'acknowledged registrations missing',
    );
  }
}
