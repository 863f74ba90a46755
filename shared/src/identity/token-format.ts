/**
 * The text form of Weft tokens: `weft.<kind>.<id>.<secret>.<ca-fingerprint>`.
 * - kind: join | operator | read (the control plane's record is what counts;
 *   the prefix is for humans and for refusing the wrong kind early).
 * - id: 16 hex characters, the record's key; it may be logged.
 * - secret: 32 random bytes, base64url; stored only as its SHA-256.
 * - ca-fingerprint: SHA-256 of the mesh root's DER (hex). A client that has no
 *   CA bundle yet (an agent joining, the CLI on another host) pins the
 *   control plane's TLS chain to it before sending the token (kubeadm's
 *   discovery-token-ca-cert-hash).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ValidationError } from '../errors.js';

export const TOKEN_KINDS = ['join', 'operator', 'read'] as const;
export type TokenKindName = (typeof TOKEN_KINDS)[number];

export interface ParsedToken {
  kind: TokenKindName;
  id: string;
  secret: string;
  caFingerprint: string;
}

const TOKEN_RE = /^weft\.(join|operator|read)\.([0-9a-f]{16})\.([A-Za-z0-9_-]{43})\.([0-9a-f]{64})$/;

export function newTokenParts(): { id: string; secret: string } {
  return { id: randomBytes(8).toString('hex'), secret: randomBytes(32).toString('base64url') };
}

export function formatToken(t: ParsedToken): string {
  return `weft.${t.kind}.${t.id}.${t.secret}.${t.caFingerprint}`;
}

/** Parses a token; the error names `field` and never echoes the secret. */
export function parseToken(text: string, field: string): ParsedToken {
  const m = TOKEN_RE.exec(text.trim());
  if (!m) throw new ValidationError(field, 'is not a Weft token (expected weft.<kind>.<id>.<secret>.<ca-fingerprint>)');
  return { kind: m[1] as TokenKindName, id: m[2], secret: m[3], caFingerprint: m[4] };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
