/**
 * A real browser for the dashboard test: Debian's chromium at
 * /usr/bin/chromium (scripts/install-test-tools.sh installs it) driven by
 * playwright-core. Without it the test is skipped with a printed reason,
 * unless WEFT_TEST_BROWSER=required (CI), where a missing browser fails.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots land here (gitignored): test/artifacts/ui/*.png. */
export const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts', 'ui');

/** Why the browser test cannot run here, or undefined when it can. Throws when the browser is required but missing. */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `no browser at ${CHROMIUM}: run scripts/install-test-tools.sh (or set WEFT_CHROMIUM)`;
  if (process.env.WEFT_TEST_BROWSER === 'required') throw new Error(`WEFT_TEST_BROWSER=required but ${why}`);
  console.log(`dashboard browser test skipped: ${why}`);
  return why;
}

export async function launchBrowser(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  // --no-sandbox: CI runs as root, where chromium refuses its sandbox; the pages are our own, on loopback.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'] });
}

/** The first non-loopback IPv4 address of this host, to reach the control plane as a remote browser would. */
export async function remoteAddress(): Promise<string | undefined> {
  const { networkInterfaces } = await import('node:os');
  for (const addrs of Object.values(networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}
