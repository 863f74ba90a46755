/** PEM <-> WebCrypto keys (ECDSA P-256/P-384), through node's KeyObject. */
import { createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { ValidationError } from '@weft/shared';

type CryptoKey = webcrypto.CryptoKey;

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }) as string;
}

/** Imports an EC private key (PKCS#8 or SEC1 PEM) for signing, with its public half. */
export async function importEcKeyPair(pem: string, field: string): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey }> {
  const ko = createPrivateKey(pem);
  const curve = ko.asymmetricKeyDetails?.namedCurve;
  const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
  if (ko.asymmetricKeyType !== 'ec' || !namedCurve) throw new ValidationError(field, 'must be an ECDSA P-256 or P-384 private key');
  const hash = namedCurve === 'P-256' ? 'SHA-256' : 'SHA-384';
  const privateKey = await webcrypto.subtle.importKey(
    'pkcs8',
    ko.export({ format: 'der', type: 'pkcs8' }),
    { name: 'ECDSA', namedCurve, hash } as webcrypto.EcKeyImportParams,
    true,
    ['sign'],
  );
  const spki = createPublicKey(ko).export({ format: 'der', type: 'spki' });
  const publicKey = await webcrypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve } as webcrypto.EcKeyImportParams, true, [
    'verify',
  ]);
  return { privateKey, publicKey };
}
