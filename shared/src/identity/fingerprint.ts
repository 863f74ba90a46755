/**
 * CA fingerprints: SHA-256 of a certificate's DER, lower-case hex without
 * separators (what tokens carry and what `weft ca list` prints).
 */
import { createHash, X509Certificate } from 'node:crypto';

export function fingerprintOfDer(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

export function fingerprintOf(cert: X509Certificate | string): string {
  const c = typeof cert === 'string' ? new X509Certificate(cert) : cert;
  return fingerprintOfDer(c.raw);
}

/** Splits concatenated PEM certificates. */
export function splitPemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((c) => `${c}\n`) ?? [];
}
