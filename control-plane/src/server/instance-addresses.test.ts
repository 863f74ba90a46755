import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type InstanceSpec, parseAddressAllowance } from '@weft/shared';
import { instanceSpec } from '../test-support.js';
import { checkInstanceAddresses } from './instance-addresses.js';

const agent = { agentId: 'host-a', hostname: 'host-a', address: '10.1.2.3', inboundPort: 15006, zone: '', version: '' };
/** A local instance first, then one at `address`: the refusal must name the second. */
const at = (address: string): InstanceSpec[] => [instanceSpec('db', 'db-0'), instanceSpec('orders', 'orders-1', { address })];

test('an agent registers instances on its own host: loopback, localhost, its advertised address', () => {
  for (const address of [
    '127.0.0.1',
    '127.8.9.10',
    '::1',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
    'localhost',
    'LOCALHOST',
    '10.1.2.3',
    '::ffff:10.1.2.3',
  ])
    assert.doesNotThrow(() => checkInstanceAddresses(agent, at(address), undefined), address);
  const v6 = { ...agent, address: 'fd00::1' };
  assert.doesNotThrow(() => checkInstanceAddresses(v6, at('fd00:0:0:0:0:0:0:1'), undefined));
});

test('elsewhere is PERMISSION_DENIED naming the field, unless the operator allowed the address', () => {
  for (const address of ['10.1.2.4', '192.0.2.7', 'db.internal', 'localhost.evil.example', 'fd00::2']) {
    assert.throws(
      () => checkInstanceAddresses(agent, at(address), undefined),
      (err: Error) =>
        err.name === 'PermissionDeniedError' &&
        err.message.startsWith(`instances[1].address: ${JSON.stringify(address)} is not on agent "host-a"'s host`) &&
        /--allow-remote-instances/.test(err.message),
      address,
    );
  }
  const blocks = parseAddressAllowance(['192.0.2.0/24', 'fd00::/64'], '--allow-remote-instances');
  assert.doesNotThrow(() => checkInstanceAddresses(agent, at('192.0.2.7'), blocks));
  assert.doesNotThrow(() => checkInstanceAddresses(agent, at('fd00::2'), blocks));
  assert.throws(() => checkInstanceAddresses(agent, at('198.51.100.1'), blocks), /instances\[1\]\.address/);
  assert.throws(() => checkInstanceAddresses(agent, at('db.internal'), blocks), /instances\[1\]\.address/, 'hostnames only with any');
  assert.doesNotThrow(() => checkInstanceAddresses(agent, at('db.internal'), 'any'));
});
