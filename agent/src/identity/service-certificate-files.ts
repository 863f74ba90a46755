/**
 * Service certificates on disk: <dataDir>/identity/services/<service>.key
 * (0600) and <service>.crt, in the directory of the agent's own key (0700).
 * Why they are kept at all (docs/security.md "Service certificates"): an
 * agent restarted while the control plane is unreachable presents the same
 * identities as before, so access policies naming services keep deciding as
 * they did, instead of seeing the agent's identity until the control plane
 * is back. A file is written whole (temp file + rename), the key first.
 *
 * What is read back is checked, not trusted: the certificate must name
 * `spiffe://<td>/svc/<service>` of this agent's trust domain, be valid now,
 * and match the key; anything else is ignored (and the pair removed).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSpiffeId, uriSans } from '@weft/shared';
import { readFileIfExists } from '../discovery/atomic-file.js';
import { identityDir } from './identity-files.js';
import type { ServiceCertificate } from './service-certificates.js';

export function serviceCertificatesDir(dataDir: string): string {
  return join(identityDir(dataDir), 'services');
}

async function replace(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}

export async function writeServiceCertificate(dataDir: string, cert: ServiceCertificate): Promise<void> {
  const dir = serviceCertificatesDir(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await replace(join(dir, `${cert.service}.key`), cert.keyPem, 0o600);
  await replace(join(dir, `${cert.service}.crt`), cert.certificatePem, 0o644);
}

export async function removeServiceCertificate(dataDir: string, service: string): Promise<void> {
  const dir = serviceCertificatesDir(dataDir);
  await Promise.all([rm(join(dir, `${service}.key`), { force: true }), rm(join(dir, `${service}.crt`), { force: true })]);
}

/** A stored certificate of `service`, checked as the file comment says; a string says why it is not usable. */
export function checkStoredCertificate(
  service: string,
  trustDomain: string,
  keyPem: string,
  certificatePem: string,
  now: number,
): ServiceCertificate | string {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificatePem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return 'the key does not match the certificate';
  } catch (err) {
    return `unreadable (${(err as Error).message})`;
  }
  const id = uriSans(cert.subjectAltName)
    .map(parseSpiffeId)
    .find((i) => i?.kind === 'svc');
  if (id?.kind !== 'svc' || id.name !== service || id.trustDomain !== trustDomain)
    return `it does not name spiffe://${trustDomain}/svc/${service}`;
  const notBeforeMs = Date.parse(cert.validFrom);
  const notAfterMs = Date.parse(cert.validTo);
  if (notAfterMs <= now) return `expired at ${new Date(notAfterMs).toISOString()}`;
  return Object.freeze({
    service,
    spiffeId: `spiffe://${trustDomain}/svc/${service}`,
    keyPem,
    certificatePem,
    serial: cert.serialNumber.toUpperCase(),
    issuer: cert.issuer.replaceAll('\n', ', '),
    notBeforeMs,
    notAfterMs,
  });
}

/**
 * Reads every stored certificate: usable ones by service, and why each other
 * one was not (its files are removed). Services not in `keep` are removed.
 */
export async function readServiceCertificates(
  dataDir: string,
  trustDomain: string,
  keep: ReadonlySet<string>,
  now = Date.now(),
): Promise<{ usable: Map<string, ServiceCertificate>; refused: Map<string, string> }> {
  const dir = serviceCertificatesDir(dataDir);
  const usable = new Map<string, ServiceCertificate>();
  const refused = new Map<string, string>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { usable, refused };
    throw err;
  }
  const services = new Set(names.filter((n) => n.endsWith('.crt')).map((n) => n.slice(0, -'.crt'.length)));
  for (const service of services) {
    const why = keep.has(service)
      ? await (async () => {
          const [keyPem, certificatePem] = await Promise.all([
            readFileIfExists(join(dir, `${service}.key`)),
            readFileIfExists(join(dir, `${service}.crt`)),
          ]);
          if (keyPem === undefined || certificatePem === undefined) return 'its key or certificate file is missing';
          const checked = checkStoredCertificate(service, trustDomain, keyPem, certificatePem, now);
          if (typeof checked === 'string') return checked;
          usable.set(service, checked);
          return undefined;
        })()
      : 'no local registration of the service';
    if (why === undefined) continue;
    refused.set(service, why);
    await removeServiceCertificate(dataDir, service);
  }
  return { usable, refused };
}
