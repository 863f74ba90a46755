/**
 * The agent's identity (docs/security.md): what the data plane's mTLS hop
 * builds on. AgentIdentity gives the current key, certificate and CA bundle
 * (onChange on renewal / CA rotation) and the deny list (onRevocations).
 */
export { AgentIdentity, type IdentitySnapshot, type RevocationSnapshot, snapshotOf } from './agent-identity.js';
export { type CertificatesStatus, certificatesStatus } from './certificate-status.js';
export { controlPlaneCredentials } from './control-plane-credentials.js';
export { EnrolmentError, type IdentityOptions, loadOrEnrol } from './enrolment.js';
export { identityDir } from './identity-files.js';
export { CertificateRenewal, renewDelayMs } from './renewal.js';
export { type ServiceCertificate, type ServiceCertificateSource, ServiceCertificates } from './service-certificates.js';
export { TRUST_SUBSCRIPTIONS, trustResourceHandler } from './trust-resources.js';
