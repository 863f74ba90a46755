import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { silentLogger, TRUST_BUNDLE_RESOURCE, TRUST_REVOCATIONS_RESOURCE } from '@weft/shared';
import { AgentIdentity, type IdentitySnapshot } from './agent-identity.js';
import { renewDelayMs } from './renewal.js';
import { trustResourceHandler } from './trust-resources.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n';
const snapshot: IdentitySnapshot = Object.freeze({
  agentId: 'a',
  spiffeId: 'spiffe://weft.local/agent/a',
  trustDomain: 'weft.local',
  keyPem: 'k',
  certificatePem: 'c',
  caBundlePem: PEM,
  serial: 'AB01',
  notBeforeMs: 0,
  notAfterMs: 3000,
});

test('renews at about two thirds of the life, with ±10% jitter, never in the past', () => {
  assert.equal(
    renewDelayMs(0, 3000, 0, 2 / 3, () => 0.5),
    2000,
  );
  assert.equal(
    renewDelayMs(0, 3000, 0, 2 / 3, () => 0),
    1800,
  );
  assert.equal(
    renewDelayMs(0, 3000, 0, 2 / 3, () => 1),
    2200,
  );
  assert.equal(renewDelayMs(0, 3000, 5000), 0);
});

test('the deny list from the stream reaches AgentIdentity; a new CA bundle is written, then replaces the snapshot', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-identity-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const identity = new AgentIdentity(snapshot, silentLogger);
  const seen: string[] = [];
  identity.onRevocations((r) => seen.push(r.version));
  const changes: IdentitySnapshot[] = [];
  const stop = identity.onChange((s) => changes.push(s));
  const handler = trustResourceHandler(identity, dir, silentLogger);
  assert.ok(handler.owns(TRUST_REVOCATIONS_RESOURCE));
  assert.ok(!handler.owns('policy/orders'));
  const errors = handler.apply(
    [
      { name: TRUST_REVOCATIONS_RESOURCE, version: '3', revocations: { agent_ids: ['b'], serials: ['cd02'] } },
      { name: TRUST_BUNDLE_RESOURCE, version: 'x', bundle: { ca_bundle_pem: '' } },
    ] as never,
    [],
    [],
  );
  assert.deepEqual(seen, ['3']);
  assert.ok(identity.isRevoked('b'));
  assert.ok(identity.isRevoked('c', 'CD02'), 'serials compare case-insensitively');
  assert.ok(!identity.isRevoked('a', 'AB01'));
  assert.deepEqual(
    errors.map((e) => e.message),
    ['bundle.ca_bundle_pem: holds no certificate'],
  );
  handler.apply([{ name: TRUST_BUNDLE_RESOURCE, version: 'y', bundle: { ca_bundle_pem: PEM + PEM } }] as never, [], []);
  assert.equal(identity.current().caBundlePem, PEM + PEM);
  assert.equal(changes.length, 1);
  stop();
  assert.equal(readFileSync(join(dir, 'identity', 'ca-bundle.crt'), 'utf8'), PEM + PEM);
});
