/** A fresh ECDSA P-256 key made on this host, and a CSR for it. The key never leaves the host. */
import { createPrivateKey, webcrypto } from 'node:crypto';
import { EC_ALGORITHM, x509 } from './x509-lib.js';

export async function newKeyAndCsr(agentId: string): Promise<{ keyPem: string; csrPem: string }> {
  const keys = await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify']);
  // The CA ignores the subject (it names the agent from the token or the caller's certificate); it helps operators reading CSRs.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${agentId}`,
    keys: keys as unknown as Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'],
    signingAlgorithm: EC_ALGORITHM,
  });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;
  return { keyPem, csrPem: csr.toString('pem') };
}
