import assert from 'node:assert/strict';
import { webcrypto, X509Certificate } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fingerprintOf, silentLogger, splitPemCertificates } from '@weft/shared';
import { tempDir } from '../test-support.js';
import { MeshCa } from './mesh-ca.js';
import { EC_ALGORITHM, x509 } from './x509-lib.js';

async function csr(name: string): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify']);
  const req = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${name}`,
    keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
    signingAlgorithm: EC_ALGORITHM,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'spiffe://weft.local/agent/someone-else' }])],
  });
  return req.toString('pem');
}

test('the first start makes a P-256 root kept 0600 in <data-dir>/ca; the next start loads the same one', async () => {
  const dir = tempDir();
  after(() => dir.remove());
  const ca = await MeshCa.open({ dataDir: dir.path, trustDomain: 'weft.local', logger: silentLogger });
  const fp = ca.activeFingerprint();
  assert.equal(statSync(join(dir.path, 'ca', `${fp}.key`)).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir.path, 'ca')).mode & 0o777, 0o700);
  const root = new X509Certificate(ca.bundlePem());
  assert.ok(root.ca);
  assert.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(fingerprintOf(root), fp);
  const again = await MeshCa.open({ dataDir: dir.path, trustDomain: 'weft.local', logger: silentLogger });
  assert.equal(again.activeFingerprint(), fp);
  await assert.rejects(MeshCa.open({ dataDir: dir.path, trustDomain: 'other.example', logger: silentLogger }), /belongs to trust domain/);
});

test('a certificate names the identity the CA chose, never the names in the CSR', async () => {
  const dir = tempDir();
  after(() => dir.remove());
  const ca = await MeshCa.open({ dataDir: dir.path, trustDomain: 'weft.local', logger: silentLogger });
  const issued = await ca.issueFromCsr(await csr('mallory'), 'spiffe://weft.local/agent/a1', 60_000);
  const cert = new X509Certificate(issued.certificatePem);
  assert.equal(cert.subjectAltName, 'URI:spiffe://weft.local/agent/a1');
  assert.ok(cert.verify(new X509Certificate(ca.bundlePem()).publicKey));
  assert.ok(Date.parse(cert.validTo) <= Date.now() + 61_000);
  // The serial recorded (and revoked) is the certificate's own, as node spells it; the shared extensions are all there.
  for (let i = 0; i < 20; i++) {
    const more = await ca.issueFromCsr(await csr(`a${i}`), `spiffe://weft.local/agent/a${i}`, 60_000);
    const c = new X509Certificate(more.certificatePem);
    assert.equal(more.serial, c.serialNumber);
    assert.equal(c.ca, false);
    assert.deepEqual(c.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.ok(c.checkIssued(new X509Certificate(ca.bundlePem())));
  }
  await assert.rejects(ca.issueFromCsr('not a csr', 'spiffe://weft.local/agent/a1', 1000), /csr_pem: is not a PEM PKCS#10/);
});

test('CA rotation: add (trusted, not issuing), activate (issuing), remove the old root', async () => {
  const dir = tempDir();
  after(() => dir.remove());
  const ca = await MeshCa.open({ dataDir: dir.path, trustDomain: 'weft.local', logger: silentLogger });
  let changes = 0;
  ca.onChange(() => changes++);
  const old = ca.activeFingerprint();
  const added = await ca.addRoot();
  assert.equal(ca.activeFingerprint(), old);
  assert.equal(splitPemCertificates(ca.bundlePem()).length, 2);
  ca.activateRoot(added.fingerprint.slice(0, 12));
  const issued = await ca.issueFromCsr(await csr('a'), 'spiffe://weft.local/agent/a', 60_000);
  assert.ok(new X509Certificate(issued.certificatePem).verify(new X509Certificate(added.certificatePem).publicKey));
  assert.throws(() => ca.removeRoot(added.fingerprint), /is the active root/);
  ca.removeRoot(old);
  assert.deepEqual(
    ca.list().map((r) => r.fingerprint),
    [added.fingerprint],
  );
  assert.equal(changes, 3);
  const reopened = await MeshCa.open({ dataDir: dir.path, trustDomain: 'weft.local', logger: silentLogger });
  assert.equal(reopened.activeFingerprint(), added.fingerprint);
});
