/** Against the real PostgreSQL (postgres-for-tests.ts says when it is skipped). */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import { silentLogger } from '@weft/shared';
import pg from 'pg';
import { LeaderLease } from './leader-lease.js';
import { postgresForTests } from './postgres-for-tests.js';
import { eventually, terminateBackends } from './test-helpers.js';

const db = await postgresForTests();

describe('leader lease on an advisory lock', { skip: db.skip }, () => {
  const url = db.url ?? '';
  const run = `weft-test-${randomInt(1e9)}`;
  const open: LeaderLease[] = [];
  const children: ChildProcess[] = [];
  const admin = new pg.Client({ connectionString: url });
  admin.on('error', () => {});
  const adminReady = admin.connect();

  interface Replica {
    lease: LeaderLease;
    events: string[];
    app: string;
  }
  /** Each test uses its own lock key so tests (and parallel runs) never compete with each other. */
  function replica(id: string, key: number): Replica {
    const events: string[] = [];
    const app = `${run} ${id}`;
    const lease = new LeaderLease({
      connection: { connectionString: url, applicationName: app },
      replicaId: id,
      name: 'test',
      key,
      logger: silentLogger,
      pollIntervalMs: 200,
      onElected: () => events.push('elected'),
      onDemoted: (reason) => events.push(`demoted: ${reason}`),
    });
    lease.start();
    open.push(lease);
    return { lease, events, app };
  }
  const leaders = (...rs: Replica[]) => rs.filter((r) => r.lease.isLeader());

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const l of open) await l.close();
    await admin.end().catch(() => {});
  });

  test('exactly one of three replicas leads', async () => {
    const key = randomInt(2 ** 31);
    const rs = [replica('a', key), replica('b', key), replica('c', key)];
    await eventually('a leader', () => leaders(...rs).length === 1);
    await new Promise((r) => setTimeout(r, 1_000)); // several polls of the others
    assert.equal(leaders(...rs).length, 1);
    for (const r of rs) assert.ok(r.events.length <= 1, r.events.join(', '));
  });

  test('the leader is demoted at once when its connection is killed, and another takes over', async (t) => {
    const key = randomInt(2 ** 31);
    const one = replica('d', key);
    await eventually('d leads', () => one.lease.isLeader());
    const two = replica('e', key);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(two.lease.isLeader(), false);
    await adminReady;
    const killedAt = Date.now();
    assert.equal(await terminateBackends(admin, one.app), 1);
    await eventually('e leads', () => two.lease.isLeader(), 5_000);
    t.diagnostic(`handover ${Date.now() - killedAt} ms after pg_terminate_backend (poll every 200 ms)`);
    assert.match(one.events[1] ?? '', /^demoted: connection lost/);
    // d reconnects and competes again, but e keeps the lease.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.deepEqual(leaders(one, two), [two]);
  });

  test('a replica process killed with SIGKILL while leading loses the lease to another within seconds', async (t) => {
    const key = randomInt(2 ** 31);
    const leaseModule = new URL('./leader-lease.js', import.meta.url).href;
    const script = `
      const { LeaderLease } = await import(${JSON.stringify(leaseModule)});
      const { silentLogger } = await import('@weft/shared');
      const lease = new LeaderLease({ connection: { connectionString: process.env.PG_URL }, replicaId: 'child', name: 'test',
        key: Number(process.env.KEY), logger: silentLogger, pollIntervalMs: 200, onElected: () => process.stdout.write('elected\\n') });
      lease.start();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, PG_URL: url, KEY: String(key) },
      cwd: new URL('.', import.meta.url),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
    });
    await eventually('the child leads', () => out.includes('elected'), 10_000);
    const survivor = replica('f', key);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(survivor.lease.isLeader(), false, 'took the lease while the child held it');
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    await eventually('f leads', () => survivor.lease.isLeader(), 10_000);
    assert.ok(Date.now() - killedAt < 10_000);
    t.diagnostic(`handover ${Date.now() - killedAt} ms after kill -9 of the holder (poll every 200 ms)`);
  });

  test('closing the leader hands the lease over', async () => {
    const key = randomInt(2 ** 31);
    const one = replica('g', key);
    await eventually('g leads', () => one.lease.isLeader());
    const two = replica('h', key);
    await one.lease.close();
    assert.deepEqual(one.events, ['elected', 'demoted: closing']);
    await eventually('h leads', () => two.lease.isLeader(), 5_000);
  });
});
