/**
 * Leases when replicas share a PostgreSQL store: the stored lease is renewed
 * by the replica holding the agent's stream, and only the sweeping replica
 * (the leader) removes lapsed agents. Real PostgreSQL (fresh schema); skipped
 * with the reason printed when none answers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AgentInfo } from '@weft/shared';
import { silentLogger } from '@weft/shared';
import { freshSchema, postgresSkipReason } from '../pg-test-support.js';
import { openPostgresStore } from '../store/postgres/pg-backend.js';
import { Registry } from './registry.js';

const skip = await postgresSkipReason();
const agent: AgentInfo = { agentId: 'held', hostname: 'h', address: '10.0.0.9', inboundPort: 15006, zone: '', version: '1' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('leases on a shared store', { skip }, () => {
  test('the holding replica keeps an agent’s lease alive; once it stops renewing, the leader removes the agent after the TTL', async () => {
    const s = await freshSchema();
    const [storeA, storeB] = await Promise.all([openPostgresStore(s.url, silentLogger), openPostgresStore(s.url, silentLogger)]);
    const opts = { leaseTtlMs: 400, restartGraceMs: 400, logger: silentLogger, sweepIntervalMs: 50, sharedStore: { renewIntervalMs: 50 } };
    const holder = new Registry(storeA.registry, opts);
    const leader = new Registry(storeB.registry, opts);
    try {
      await Promise.all([holder.start(), leader.start()]);
      leader.setSweeping(true);
      await holder.agentConnected(agent);
      await holder.register(
        agent,
        [
          {
            service: 'kept',
            instanceId: 'k1',
            address: '127.0.0.1',
            port: 80,
            zone: '',
            weight: 1,
            tags: [],
            metadata: {},
            health: 'passing',
            protocol: 'http',
          },
        ],
        false,
      );
      // Three TTLs: the holder renews, so the leader (which never saw the stream) must not sweep it.
      await sleep(1200);
      assert.equal((await storeB.registry.load()).instances.length, 1);
      // The holder dies without a word (no disconnect written): renewals stop.
      await holder.close();
      const stoppedAt = Date.now();
      for (;;) {
        if ((await storeB.registry.load()).instances.length === 0) break;
        assert.ok(Date.now() - stoppedAt < 5000, 'the leader did not remove the lapsed agent within 5 s');
        await sleep(50);
      }
      assert.ok(Date.now() - stoppedAt >= 300, 'removed before its lease could have lapsed');
      assert.equal(await storeB.registry.agent('held'), undefined);
    } finally {
      await holder.close();
      await leader.close();
      await Promise.all([storeA.close(), storeB.close()]);
      await s.drop();
    }
  });

  test('a replica that is not the leader never sweeps', async () => {
    const s = await freshSchema();
    const store = await openPostgresStore(s.url, silentLogger);
    const r = new Registry(store.registry, {
      leaseTtlMs: 100,
      restartGraceMs: 100,
      logger: silentLogger,
      sweepIntervalMs: 20,
      sharedStore: {},
    });
    try {
      await r.start();
      await r.register(
        agent,
        [
          {
            service: 'x',
            instanceId: 'x1',
            address: '127.0.0.1',
            port: 80,
            zone: '',
            weight: 1,
            tags: [],
            metadata: {},
            health: 'passing',
            protocol: 'http',
          },
        ],
        false,
      );
      await sleep(400);
      assert.equal((await store.registry.load()).instances.length, 1);
      r.setSweeping(true);
      for (let i = 0; (await store.registry.load()).instances.length > 0; i++) {
        assert.ok(i < 100, 'the leader did not sweep');
        await sleep(20);
      }
    } finally {
      await r.close();
      await store.close();
      await s.drop();
    }
  });
});
