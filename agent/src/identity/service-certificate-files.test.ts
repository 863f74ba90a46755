/**
 * Stored service certificates are checked when read back, with real
 * certificates from a test CA and real files in a temporary data dir.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { testCa } from '../proxy/test-mesh-ca.js';
import {
  checkStoredCertificate,
  readServiceCertificates,
  serviceCertificatesDir,
  writeServiceCertificate,
} from './service-certificate-files.js';
import type { ServiceCertificate } from './service-certificates.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('stored service certificates', async () => {
  const ca = await testCa();
  const orders = await ca.issueService('orders', 'a');
  const stock = await ca.issueService('stock', 'a');

  it('accepts the pair it was issued as, and names what is wrong otherwise', () => {
    const ok = checkStoredCertificate('orders', 'weft.local', orders.keyPem, orders.certificatePem, Date.now());
    assert.equal(typeof ok, 'object');
    assert.equal((ok as ServiceCertificate).spiffeId, 'spiffe://weft.local/svc/orders');
    assert.match((ok as ServiceCertificate).serial, /^[0-9A-F]+$/);
    assert.equal(
      checkStoredCertificate('orders', 'weft.local', stock.keyPem, orders.certificatePem, Date.now()),
      'the key does not match the certificate',
    );
    assert.equal(
      checkStoredCertificate('orders', 'weft.local', stock.keyPem, stock.certificatePem, Date.now()),
      'it does not name spiffe://weft.local/svc/orders',
    );
    assert.equal(
      checkStoredCertificate('orders', 'other.domain', orders.keyPem, orders.certificatePem, Date.now()),
      'it does not name spiffe://other.domain/svc/orders',
    );
    assert.match(
      String(checkStoredCertificate('orders', 'weft.local', orders.keyPem, orders.certificatePem, Date.now() + 400 * 86_400_000)),
      /^expired at /,
    );
    assert.match(String(checkStoredCertificate('orders', 'weft.local', orders.keyPem, 'not a pem', Date.now())), /^unreadable/);
  });

  it('writes the key 0600 in a 0700 directory, reads back the usable ones and removes the rest', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-svc-certs-'));
    dirs.push(dataDir);
    const ordersCert = checkStoredCertificate(
      'orders',
      'weft.local',
      orders.keyPem,
      orders.certificatePem,
      Date.now(),
    ) as ServiceCertificate;
    const stockCert = checkStoredCertificate('stock', 'weft.local', stock.keyPem, stock.certificatePem, Date.now()) as ServiceCertificate;
    await writeServiceCertificate(dataDir, ordersCert);
    await writeServiceCertificate(dataDir, stockCert);
    const dir = serviceCertificatesDir(dataDir);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'orders.key')).mode & 0o777, 0o600);
    // A tampered pair: cart's files hold orders' certificate.
    writeFileSync(join(dir, 'cart.key'), orders.keyPem);
    writeFileSync(join(dir, 'cart.crt'), orders.certificatePem);

    const { usable, refused } = await readServiceCertificates(dataDir, 'weft.local', new Set(['orders', 'cart']));
    assert.deepEqual([...usable.keys()], ['orders']);
    assert.equal(usable.get('orders')?.serial, ordersCert.serial);
    assert.deepEqual(Object.fromEntries(refused), {
      cart: 'it does not name spiffe://weft.local/svc/cart',
      stock: 'no local registration of the service',
    });
    assert.equal(existsSync(join(dir, 'stock.key')), false);
    assert.equal(existsSync(join(dir, 'cart.crt')), false);
    assert.equal(existsSync(join(dir, 'orders.key')), true);
  });

  it('reads nothing from a data dir that never stored any', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'weft-svc-certs-'));
    dirs.push(dataDir);
    const { usable, refused } = await readServiceCertificates(dataDir, 'weft.local', new Set(['orders']));
    assert.equal(usable.size + refused.size, 0);
  });
});
