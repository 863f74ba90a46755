/**
 * The mesh CA: ECDSA P-256 roots kept in the data dir (ca-files.ts) or given
 * by the operator (--ca-cert/--ca-key), and the certificates it issues. It
 * decides identities itself: a CSR only contributes its public key (the
 * subject and names in it are ignored).
 *
 * Rotation (three steps, a certificate lifetime apart): addRoot() makes a new
 * root that is trusted but does not issue; activateRoot() makes it issue;
 * removeRoot() stops trusting the old one. The bundle (every trusted root)
 * changes with each step; listeners hear of it (server certificate, the
 * "trust/bundle" resource).
 */
import { KeyObject, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import {
  controlPlaneSpiffeId,
  fingerprintOf,
  type Logger,
  NotFoundError,
  splitPemCertificates,
  ValidationError,
  validateTrustDomain,
} from '@weft/shared';
import { CaFiles } from './ca-files.js';
import { importEcKeyPair, privateKeyToPem } from './key-pem.js';
import { EC_ALGORITHM, x509 } from './x509-lib.js';

type CryptoKey = webcrypto.CryptoKey;

export interface MeshCaOptions {
  dataDir: string;
  trustDomain: string;
  /** Operator-provided root (PEM files); the CA then never writes a root of its own. */
  caCertFile?: string;
  caKeyFile?: string;
  logger: Logger;
  /** Validity of a root made by the CA; default 10 years. */
  rootTtlMs?: number;
}

export interface CaRootInfo {
  fingerprint: string;
  subject: string;
  notAfterMs: number;
  active: boolean;
  certificatePem: string;
}

export interface IssuedCert {
  certificatePem: string;
  /** Upper-case hex, as node's X509Certificate prints it. */
  serial: string;
  notAfterMs: number;
}

interface Root {
  fingerprint: string;
  cert: x509.X509Certificate;
  pem: string;
  privateKey: CryptoKey;
}

const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;
/**
 * Certificates start a little in the past so hosts with skewed clocks accept them: 5 min,
 * or a tenth of a short lifetime (agents renew at a fraction of notBefore..notAfter).
 */
const BACKDATE_MS = 5 * 60 * 1000;
const backdateMs = (ttlMs: number) => Math.min(BACKDATE_MS, Math.floor(ttlMs / 10));

/**
 * Extensions every agent/service/server leaf carries, built once (issue #11:
 * building them per certificate was a visible share of the CPU per
 * enrolment); x509 extensions are immutable values, safe to share.
 */
const LEAF_EXTENSIONS: readonly x509.Extension[] = [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
];

/** Authority key identifier of each root, computed once per root (it hashes the root's public key). */
const authorityKeyIds = new WeakMap<x509.X509Certificate, Promise<x509.AuthorityKeyIdentifierExtension>>();
function authorityKeyIdOf(root: x509.X509Certificate): Promise<x509.AuthorityKeyIdentifierExtension> {
  let aki = authorityKeyIds.get(root);
  if (!aki) {
    aki = x509.AuthorityKeyIdentifierExtension.create(root);
    authorityKeyIds.set(root, aki);
  }
  return aki;
}

function newSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x7f) | 0x01; // positive, never a leading zero byte
  return b.toString('hex');
}

export class MeshCa {
  private roots: Root[] = [];
  private active!: Root;
  private readonly listeners: (() => void)[] = [];

  private constructor(
    readonly trustDomain: string,
    private readonly files: CaFiles | null,
    private readonly log: Logger,
    private readonly rootTtlMs: number,
  ) {}

  /** Loads the CA from the data dir (or the operator's files); creates a root on first start. */
  static async open(opts: MeshCaOptions): Promise<MeshCa> {
    const trustDomain = validateTrustDomain(opts.trustDomain, '--trust-domain');
    const log = opts.logger.child({ component: 'ca' });
    if (opts.caCertFile || opts.caKeyFile) {
      if (!opts.caCertFile || !opts.caKeyFile) throw new ValidationError('--ca-cert', 'and --ca-key must be given together');
      const ca = new MeshCa(trustDomain, null, log, 0);
      const root = await loadRoot(readFileSync(opts.caCertFile, 'utf8'), readFileSync(opts.caKeyFile, 'utf8'), opts.caCertFile);
      ca.roots = [root];
      ca.active = root;
      log.info('using the operator CA', { file: opts.caCertFile, fingerprint: root.fingerprint });
      return ca;
    }
    const files = new CaFiles(opts.dataDir);
    files.ensureDir();
    const ca = new MeshCa(trustDomain, files, log, opts.rootTtlMs ?? TEN_YEARS_MS);
    const state = files.readRoots();
    if (!state) {
      const root = await ca.makeRoot();
      ca.roots = [root];
      ca.active = root;
      ca.persist();
      log.info('created the mesh CA', { dir: files.dir, fingerprint: root.fingerprint, trustDomain });
      return ca;
    }
    if (state.trustDomain !== trustDomain)
      throw new ValidationError(
        '--trust-domain',
        `the CA in ${files.dir} belongs to trust domain ${JSON.stringify(state.trustDomain)}, not ${JSON.stringify(trustDomain)}`,
      );
    for (const fp of state.trusted) {
      const { certPem, keyPem } = files.readRoot(fp);
      ca.roots.push(await loadRoot(certPem, keyPem, `${files.dir}/${fp}.crt`));
    }
    const active = ca.roots.find((r) => r.fingerprint === state.active);
    if (!active) throw new Error(`${files.dir}/roots.json: active root ${state.active} is not among the trusted roots`);
    ca.active = active;
    files.writeBundle(ca.bundlePem());
    log.info('loaded the mesh CA', { dir: files.dir, active: active.fingerprint, trusted: ca.roots.length });
    return ca;
  }

  /** Called after every change of the trusted roots or of the active one. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  activeFingerprint(): string {
    return this.active.fingerprint;
  }

  /** Every trusted root, PEM, active first. */
  bundlePem(): string {
    return [this.active, ...this.roots.filter((r) => r !== this.active)].map((r) => r.pem).join('');
  }

  list(): CaRootInfo[] {
    return this.roots.map((r) => ({
      fingerprint: r.fingerprint,
      subject: r.cert.subject,
      notAfterMs: r.cert.notAfter.getTime(),
      active: r === this.active,
      certificatePem: r.pem,
    }));
  }

  /**
   * Issues a leaf for `spiffeId` to the key of a verified CSR. The CSR's own
   * subject and names are ignored.
   */
  async issueFromCsr(csrPem: string, spiffeId: string, ttlMs: number, field = 'csr_pem', holder?: string): Promise<IssuedCert> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch {
      throw new ValidationError(field, 'is not a PEM PKCS#10 certificate request');
    }
    const alg = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
    if (alg.name !== 'ECDSA' || (alg.namedCurve !== 'P-256' && alg.namedCurve !== 'P-384'))
      throw new ValidationError(field, 'must hold an ECDSA P-256 or P-384 public key');
    if (!(await csr.verify())) throw new ValidationError(field, 'signature does not verify (the CSR must be signed by its own key)');
    // The CSR's SubjectPublicKeyInfo goes into the certificate as it is (verify() above imported it, so it is a valid
    // P-256/P-384 key): importing it to a CryptoKey and exporting it back cost a share of the CPU per enrolment (issue #11).
    return this.issue(csr.publicKey, { uris: [spiffeId], holder }, ttlMs);
  }

  /** A key and certificate for the control plane's own TLS port (leaf followed by the trusted roots). */
  async issueServerCertificate(hosts: readonly string[], ttlMs: number): Promise<{ keyPem: string; chainPem: string; notAfterMs: number }> {
    const keys = await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify']);
    const issued = await this.issue(
      keys.publicKey,
      {
        uris: [controlPlaneSpiffeId(this.trustDomain)],
        dns: hosts.filter((h) => isIP(h) === 0),
        ips: hosts.filter((h) => isIP(h) !== 0),
      },
      ttlMs,
    );
    return {
      keyPem: await privateKeyToPem(keys.privateKey),
      chainPem: issued.certificatePem + this.bundlePem(),
      notAfterMs: issued.notAfterMs,
    };
  }

  /** Rotation step 1: a new root, trusted (in the bundle) but not issuing yet. */
  async addRoot(): Promise<CaRootInfo> {
    this.requireOwnRoots();
    const root = await this.makeRoot();
    this.roots.push(root);
    this.persist();
    this.log.info('added a CA root (trusted, not issuing yet)', { fingerprint: root.fingerprint });
    this.changed();
    return this.list().find((r) => r.fingerprint === root.fingerprint)!;
  }

  /** Rotation step 2: new certificates come from this root. */
  activateRoot(fingerprint: string): void {
    this.requireOwnRoots();
    const root = this.find(fingerprint);
    this.active = root;
    this.persist();
    this.log.info('activated a CA root', { fingerprint: root.fingerprint });
    this.changed();
  }

  /** Rotation step 3: stop trusting a root that no longer issues. */
  removeRoot(fingerprint: string): void {
    this.requireOwnRoots();
    const root = this.find(fingerprint);
    if (root === this.active) throw new ValidationError('fingerprint', 'is the active root; activate another root first');
    this.roots = this.roots.filter((r) => r !== root);
    this.persist();
    this.log.info('removed a CA root', { fingerprint: root.fingerprint });
    this.changed();
  }

  private find(prefix: string): Root {
    const p = prefix.toLowerCase().replace(/:/g, '');
    const matches = p.length >= 4 ? this.roots.filter((r) => r.fingerprint.startsWith(p)) : [];
    if (matches.length === 0) throw new NotFoundError(`no trusted CA root has fingerprint ${JSON.stringify(prefix)} (see weft ca list)`);
    if (matches.length > 1) throw new ValidationError('fingerprint', `${JSON.stringify(prefix)} matches several roots; give more of it`);
    return matches[0];
  }

  private requireOwnRoots(): CaFiles {
    if (!this.files)
      throw new ValidationError('step', 'the CA was given by the operator (--ca-cert); rotate it by restarting with a new one');
    return this.files;
  }

  private changed(): void {
    this.files?.writeBundle(this.bundlePem());
    for (const l of this.listeners) l();
  }

  private persist(): void {
    const files = this.files;
    if (!files) return;
    files.writeRoots({ trustDomain: this.trustDomain, active: this.active.fingerprint, trusted: this.roots.map((r) => r.fingerprint) });
    files.writeBundle(this.bundlePem());
  }

  private async makeRoot(): Promise<Root> {
    const keys = await webcrypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify']);
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: newSerial(),
      name: `CN=Weft mesh CA ${new Date(now).toISOString().slice(0, 10)} ${randomBytes(3).toString('hex')}, O=${this.trustDomain}`,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + this.rootTtlMs),
      keys,
      signingAlgorithm: EC_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    const pem = `${cert.toString('pem')}\n`;
    const root: Root = { fingerprint: fingerprintOf(pem), cert, pem, privateKey: keys.privateKey };
    if (this.files) this.files.writeRoot(root.fingerprint, pem, await privateKeyToPem(keys.privateKey));
    return root;
  }

  /** `names.holder`: written as the subject's CN (a service certificate names the agent that holds it; peers check it against the deny list). */
  private async issue(
    publicKey: CryptoKey | x509.PublicKey,
    names: { uris: string[]; dns?: string[]; ips?: string[]; holder?: string },
    ttlMs: number,
  ): Promise<IssuedCert> {
    const now = Date.now();
    const root = this.active;
    const notAfter = Math.min(now + ttlMs, root.cert.notAfter.getTime());
    const sans: x509.JsonGeneralName[] = [
      ...names.uris.map((value) => ({ type: 'url' as const, value })),
      ...(names.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(names.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ];
    const serialNumber = newSerial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: names.holder === undefined ? `O=${this.trustDomain}` : `O=${this.trustDomain}, CN=${names.holder}`,
      issuer: root.cert.subject,
      notBefore: new Date(now - backdateMs(ttlMs)),
      notAfter: new Date(notAfter),
      signingKey: root.privateKey,
      publicKey,
      signingAlgorithm: EC_ALGORITHM,
      extensions: [...LEAF_EXTENSIONS, new x509.SubjectAlternativeNameExtension(sans, true), await authorityKeyIdOf(root.cert)],
    });
    const certificatePem = `${cert.toString('pem')}\n`;
    // The serial as node's X509Certificate.serialNumber spells it (upper-case hex; newSerial never has a leading zero byte),
    // without parsing the certificate back.
    return { certificatePem, serial: serialNumber.toUpperCase(), notAfterMs: notAfter };
  }
}

async function loadRoot(certPem: string, keyPem: string, file: string): Promise<Root> {
  const pem = splitPemCertificates(certPem)[0];
  if (!pem) throw new ValidationError(file, 'holds no PEM certificate');
  const cert = new x509.X509Certificate(pem);
  const keys = await importEcKeyPair(keyPem, file.replace(/\.crt$/, '.key'));
  const node = new X509Certificate(pem);
  if (!node.checkPrivateKey(KeyObject.from(keys.privateKey))) throw new ValidationError(file, 'certificate and key do not belong together');
  if (!node.ca) throw new ValidationError(file, 'is not a CA certificate (basicConstraints CA:TRUE)');
  return { fingerprint: fingerprintOf(node), cert, pem, privateKey: keys.privateKey };
}
