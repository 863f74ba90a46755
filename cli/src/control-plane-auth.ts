/**
 * How the CLI authenticates to the control plane's gRPC port (docs/security.md):
 * - token: --token, else --token-file, else $WEFT_TOKEN, else the bootstrap
 *   operator token in the control plane's data dir when it is on this host
 *   (operator.token, or bootstrap-token in a data dir made before it had that
 *   name; --control-plane-data-dir, default .weft/control-plane);
 * - server: --ca-file (or $WEFT_CA_FILE), else the CA bundle in that data dir
 *   when present, else the root whose fingerprint the token carries (pinned
 *   on first contact); the server must present spiffe://<td>/control-plane;
 * - --insecure: plaintext, no token (a control plane started with --insecure).
 * Set once from the global options before a command runs (main.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { controlPlaneIdentityCheck, Defaults, ERROR_HEADER, fetchPinnedRoot, messageOf, parseHostPort, parseToken } from '@weft/shared';
import { CliError } from './cli-error.js';

export interface AuthSettings {
  token?: string;
  /** A file holding the token (first line), so it stays out of the process list and shell history. */
  tokenFile?: string;
  controlPlaneDataDir?: string;
  /** PEM bundle of the mesh roots to trust (after a CA rotation, tokens pin a root that may no longer issue). */
  caFile?: string;
  insecure?: boolean;
}

let settings: AuthSettings = {};

export function setAuthSettings(s: AuthSettings): void {
  settings = s;
}

export const DEFAULT_CP_DATA_DIR = `${Defaults.dataDir}/control-plane`;

function dataDir(): string {
  return settings.controlPlaneDataDir ?? process.env.WEFT_CONTROL_PLANE_DATA_DIR ?? DEFAULT_CP_DATA_DIR;
}

/** The bootstrap token's file in the control plane's data dir; the older name in data dirs made before the rename. */
const BOOTSTRAP_FILES = ['operator.token', 'bootstrap-token'];

/** The token to send, or undefined (then only an --insecure control plane answers). */
export function resolveToken(): string | undefined {
  if (settings.token) return settings.token.trim();
  if (settings.tokenFile) {
    let text: string;
    try {
      text = readFileSync(settings.tokenFile, 'utf8');
    } catch (err) {
      throw new CliError(`--token-file: ${messageOf(err)}`, 2);
    }
    const token = text.split('\n')[0].trim();
    if (!token) throw new CliError(`--token-file: ${settings.tokenFile} is empty`, 2);
    return token;
  }
  if (process.env.WEFT_TOKEN) return process.env.WEFT_TOKEN.trim();
  for (const name of BOOTSTRAP_FILES) {
    const file = join(dataDir(), name);
    if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  }
  return undefined;
}

export interface Connection {
  credentials: grpc.ChannelCredentials;
  metadata: grpc.Metadata;
}

/** Credentials and per-call metadata for `address` ("host:port"). */
export async function connectControlPlane(address: string): Promise<Connection> {
  const metadata = new grpc.Metadata();
  if (settings.insecure) return { credentials: grpc.credentials.createInsecure(), metadata };
  const token = resolveToken();
  if (!token)
    throw new CliError(
      `no token: pass --token or --token-file, set WEFT_TOKEN, or run on the control plane's host (bootstrap token in ${join(dataDir(), BOOTSTRAP_FILES[0])}; --control-plane-data-dir DIR)`,
    );
  metadata.set('authorization', `Bearer ${token}`);
  const caFile = settings.caFile ?? process.env.WEFT_CA_FILE;
  const bundleFile = join(dataDir(), 'ca', 'bundle.crt');
  let roots: string;
  if (caFile) {
    try {
      roots = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new CliError(`--ca-file: ${messageOf(err)}`, 2);
    }
  } else if (existsSync(bundleFile)) roots = readFileSync(bundleFile, 'utf8');
  else {
    let fingerprint: string;
    try {
      fingerprint = parseToken(token, 'token').caFingerprint;
    } catch (err) {
      throw new CliError(messageOf(err), 2);
    }
    const { host, port } = parseHostPort(address, '--control-plane');
    try {
      roots = await fetchPinnedRoot(host, port, fingerprint);
    } catch (err) {
      throw new CliError(`cannot verify the control plane at ${address}: ${messageOf(err)}`);
    }
  }
  return {
    credentials: grpc.credentials.createSsl(Buffer.from(roots), null, null, { checkServerIdentity: controlPlaneIdentityCheck() }),
    metadata,
  };
}

/** One-line message for a failed call. */
export function describeCallError(err: grpc.ServiceError, address: string, method: string): CliError {
  // UNAVAILABLE from a control plane that answered but cannot reach its database (x-weft-error: store_unavailable)
  // is not "cannot reach the control plane": say so, so the operator looks at the database, not the address.
  if (err.code === grpc.status.UNAVAILABLE && err.metadata?.get(ERROR_HEADER)[0] === 'store_unavailable')
    return new CliError(
      `${method} refused by the control plane at ${address}, its store is unavailable (retry once it is back): ${err.details}`,
    );
  if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED)
    return new CliError(`cannot reach the control plane at ${address} (is it running? set --control-plane HOST:PORT): ${err.details}`);
  if (err.code === grpc.status.UNAUTHENTICATED)
    return new CliError(`${method} refused: ${err.details} (pass --token or --token-file, or set WEFT_TOKEN)`);
  if (err.code === grpc.status.PERMISSION_DENIED) return new CliError(`${method} refused: ${err.details}`);
  if (err.code === grpc.status.INVALID_ARGUMENT) return new CliError(err.details, 2);
  return new CliError(`${method} failed: ${err.details || err.message}`);
}

type Invoke<C, T> = (client: C, md: grpc.Metadata, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: T) => void) => void;

/**
 * A gRPC client of the control plane with the CLI's credentials: `call`
 * sends one unary call with the token metadata and a deadline, and turns a
 * failure into a one-line CliError.
 */
export function controlPlaneClient<C extends grpc.Client>(
  address: string,
  make: (credentials: grpc.ChannelCredentials) => C,
  timeoutMs: number,
): { call<T>(method: string, invoke: Invoke<C, T>): Promise<T>; close(): void } {
  const conn = connectControlPlane(address).then((c) => ({ ...c, client: make(c.credentials) }));
  conn.catch(() => {});
  return {
    call: <T>(method: string, invoke: Invoke<C, T>) =>
      conn.then(
        ({ client, metadata }) =>
          new Promise<T>((resolve, reject) =>
            invoke(client, metadata, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) =>
              err ? reject(describeCallError(err, address, method)) : resolve(res as T),
            ),
          ),
      ),
    close: () =>
      void conn.then(
        ({ client }) => client.close(),
        () => {},
      ),
  };
}
