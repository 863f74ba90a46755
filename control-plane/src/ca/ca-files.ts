/**
 * Where the mesh CA keeps its roots: <dataDir>/ca/ (0700), one
 * `<fingerprint>.crt` + `<fingerprint>.key` (0600) per root, and `roots.json`
 * naming the trust domain, the trusted roots and the active one. Every file
 * is written whole (temp file + rename), so a crash never leaves half a key.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RootsFile {
  trustDomain: string;
  /** Fingerprint of the root that issues new certificates. */
  active: string;
  /** Every trusted root, in the order they were added. */
  trusted: string[];
}

export class CaFiles {
  readonly dir: string;
  constructor(dataDir: string) {
    this.dir = join(dataDir, 'ca');
  }

  ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
  }

  readRoots(): RootsFile | null {
    const file = join(this.dir, 'roots.json');
    if (!existsSync(file)) return null;
    return JSON.parse(readFileSync(file, 'utf8')) as RootsFile;
  }

  writeRoots(r: RootsFile): void {
    writePrivate(join(this.dir, 'roots.json'), `${JSON.stringify(r, null, 2)}\n`);
  }

  readRoot(fp: string): { certPem: string; keyPem: string } {
    return { certPem: readFileSync(join(this.dir, `${fp}.crt`), 'utf8'), keyPem: readFileSync(join(this.dir, `${fp}.key`), 'utf8') };
  }

  writeRoot(fp: string, certPem: string, keyPem: string): void {
    writePrivate(join(this.dir, `${fp}.key`), keyPem);
    writePrivate(join(this.dir, `${fp}.crt`), certPem);
  }

  /** The trusted roots for operators and tools: <dataDir>/ca/bundle.crt. */
  writeBundle(pem: string): void {
    writePrivate(join(this.dir, 'bundle.crt'), pem, 0o644);
  }
}

/** Writes `text` to `file` with `mode` (0600 by default) via a temp file and rename. */
export function writePrivate(file: string, text: string, mode = 0o600): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}
