/**
 * Reads the golden metrics from the control plane's HTTP read API
 * (/v1/stats, /v1/stats/series; control-plane/src/server/stats-routes.ts)
 * for `weft stat` and `weft top`. The CLI's token (--token, --token-file,
 * $WEFT_TOKEN, the local bootstrap token) is sent as `authorization: Bearer`:
 * the control plane's reads need one from its own host too (unless it runs
 * with --loopback-reads open).
 */
import http from 'node:http';
import type { StatsSnapshot } from '@weft/shared';
import { DefaultPorts, messageOf, parseHostPort } from '@weft/shared';
import { CliError } from './cli-error.js';
import { resolveToken } from './control-plane-auth.js';

export const apiOption = [
  '--api <host:port>',
  "control plane's HTTP API address (weft control-plane --http-port)",
  `127.0.0.1:${DefaultPorts.controlPlaneHttp}`,
] as const;

const TIMEOUT_MS = 5_000;

/** GET `path` on the API at `address`; the parsed JSON, or a CliError with the API's own message. */
export function getJson<T>(address: string, path: string): Promise<T> {
  const { host, port } = parseHostPort(address, '--api');
  const token = resolveToken();
  return new Promise<T>((resolve, reject) => {
    const req = http.get({ host, port, path, timeout: TIMEOUT_MS, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => reject(new CliError(`${address}${path}: ${messageOf(err)}`)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          return reject(new CliError(`${address}${path}: answered ${res.statusCode} with a body that is not JSON`));
        }
        if (res.statusCode !== 200) {
          const message = (body as { message?: string }).message ?? text.trim();
          return reject(new CliError(`${address}${path}: ${res.statusCode} ${message}`));
        }
        resolve(body as T);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000}s`)));
    req.on('error', (err) => reject(new CliError(`cannot reach the control plane's HTTP API at ${address} (--api): ${messageOf(err)}`)));
  });
}

/** "1m" -> "60s" for the API (which takes whole seconds or minutes, multiples of 10 s). */
export function windowParam(value: string): string {
  const m = /^(\d+)(s|m)$/.exec(value.trim());
  if (!m) throw new CliError(`--window: ${JSON.stringify(value)} is not a duration like 60s or 15m`, 2);
  return `${m[1]}${m[2]}`;
}

export function fetchStats(address: string, window: string): Promise<StatsSnapshot> {
  return getJson<StatsSnapshot>(address, `/v1/stats?window=${encodeURIComponent(windowParam(window))}`);
}
