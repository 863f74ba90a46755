/**
 * TEST SUPPORT: a throwaway mesh CA (ECDSA P-256 root, an hour long) that
 * issues agent and service certificates shaped as control-plane/src/ca does,
 * for tests of the mesh hop's mTLS in one process.
 */
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import type { ServiceCertificate, ServiceCertificateSource } from '../identity/service-certificates.js';
import { EC_ALGORITHM, x509 } from '../identity/x509-lib.js';

export type Pem = { keyPem: string; certificatePem: string };

async function keyPemOf(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;
}

export interface TestCa {
  pem: string;
  /** An agent certificate: spiffe://weft.local/agent/<agentId>. */
  issue(agentId: string): Promise<{ keyPem: string; certificatePem: string }>;
  /** A service certificate as the mesh CA issues it: spiffe://weft.local/svc/<service>, subject CN the holding agent's SPIFFE ID. */
  issueService(service: string, holder: string): Promise<{ keyPem: string; certificatePem: string }>;
}

export async function testCa(): Promise<TestCa> {
  const keys = await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `01${randomBytes(8).toString('hex')}`,
    name: `CN=test mesh CA ${randomBytes(3).toString('hex')}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
    keys,
    signingAlgorithm: EC_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const leaf = async (uri: string, subject: string) => {
    const leafKeys = await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: `01${randomBytes(8).toString('hex')}`,
      subject,
      issuer: root.subject,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
      signingKey: keys.privateKey,
      publicKey: leafKeys.publicKey,
      signingAlgorithm: EC_ALGORITHM,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }], true),
      ],
    });
    return { keyPem: await keyPemOf(leafKeys.privateKey), certificatePem: `${cert.toString('pem')}\n` };
  };
  return {
    pem: `${root.toString('pem')}\n`,
    issue: (agentId) => leaf(`spiffe://weft.local/agent/${agentId}`, 'O=weft.local'),
    issueService: (service, holder) => leaf(`spiffe://weft.local/svc/${service}`, `O=weft.local, CN=spiffe://weft.local/agent/${holder}`),
  };
}

/** The service certificates an agent holds, fixed for the test (identity/service-certificates.ts fetches them in the agent). */
export function heldServices(certs: Record<string, Pem>): ServiceCertificateSource & { hold(service: string, pem: Pem): void } {
  const held = new Map<string, ServiceCertificate>();
  const listeners = new Set<(service: string) => void>();
  const hold = (service: string, pem: Pem): void => {
    const x = new X509Certificate(pem.certificatePem);
    held.set(service, {
      service,
      spiffeId: `spiffe://weft.local/svc/${service}`,
      ...pem,
      serial: x.serialNumber,
      issuer: x.issuer,
      notBeforeMs: Date.parse(x.validFrom),
      notAfterMs: Date.parse(x.validTo),
    });
    for (const l of listeners) l(service);
  };
  for (const [service, pem] of Object.entries(certs)) hold(service, pem);
  return {
    current: (s) => held.get(s),
    onChange: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Holds (or replaces) a service's certificate and tells the listeners, as ServiceCertificates does on an issue. */
    hold,
  };
}
