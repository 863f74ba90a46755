/**
 * The agent's identity on disk: <dataDir>/identity/ (0700) with agent.key
 * (0600), agent.crt and ca-bundle.crt. Each file is replaced whole (temp file
 * + rename); the key is written before the certificate, so a crash leaves
 * either the old pair or a new key that the next renewal replaces.
 */
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileIfExists } from '../discovery/atomic-file.js';

export interface IdentityFiles {
  keyPem: string;
  certificatePem: string;
  caBundlePem: string;
}

export function identityDir(dataDir: string): string {
  return join(dataDir, 'identity');
}

export async function readIdentityFiles(dataDir: string): Promise<IdentityFiles | null> {
  const dir = identityDir(dataDir);
  const [keyPem, certificatePem, caBundlePem] = await Promise.all(
    ['agent.key', 'agent.crt', 'ca-bundle.crt'].map((f) => readFileIfExists(join(dir, f))),
  );
  if (!keyPem || !certificatePem || !caBundlePem) return null;
  return { keyPem, certificatePem, caBundlePem };
}

async function replace(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}

export async function writeIdentityFiles(dataDir: string, f: Partial<IdentityFiles>): Promise<void> {
  const dir = identityDir(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  if (f.keyPem !== undefined) await replace(join(dir, 'agent.key'), f.keyPem, 0o600);
  if (f.certificatePem !== undefined) await replace(join(dir, 'agent.crt'), f.certificatePem, 0o644);
  if (f.caBundlePem !== undefined) await replace(join(dir, 'ca-bundle.crt'), f.caBundlePem, 0o644);
}

/**
 * Replaces the CA bundle synchronously: a new bundle arrives inside the
 * discovery client's (synchronous) apply step, rarely, and must be on disk
 * before the identity's listeners hear of it.
 */
export function writeBundleSync(dataDir: string, caBundlePem: string): void {
  const dir = identityDir(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, 'ca-bundle.crt');
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, caBundlePem, { mode: 0o644 });
  chmodSync(tmp, 0o644);
  renameSync(tmp, file);
}
