export * from './control-plane-check.js';
export * from './fingerprint.js';
export * from './pinned-root.js';
export * from './source-identity.js';
export * from './spiffe-id.js';
export * from './token-format.js';
