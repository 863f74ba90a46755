/**
 * The one import of @peculiar/x509 in the control plane. The library needs a
 * Reflect metadata polyfill loaded before it (tsyringe) and a WebCrypto
 * provider; node's own webcrypto is used, so keys never leave node's crypto.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

/** ECDSA P-256 with SHA-256: every key the CA makes and every signature it issues. */
export const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
