/**
 * Reads from the control plane's HTTP API (same origin). From another host
 * the API wants a read or operator token: the login view stores it in
 * sessionStorage (gone when the tab closes, never in a cookie or URL) and every
 * request sends it as `authorization: Bearer`. A 401/403 becomes an AuthError
 * so the shell can ask for a token.
 */

const TOKEN_KEY = 'weft.token';

export function savedToken(): string {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function saveToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function authHeaders(): Record<string, string> {
  const token = savedToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

export class AuthError extends Error {}

/**
 * A 404: the endpoint does not exist on this control plane (yet), or has
 * nothing for what was asked (a service without stats). Views show "no data yet".
 */
export class MissingEndpointError extends Error {}

export async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { headers: { accept: 'application/json', ...authHeaders() } });
  if (res.status === 401 || res.status === 403) throw new AuthError(await errorText(res));
  if (res.status === 404) throw new MissingEndpointError(`${path}: ${await errorText(res)}`);
  if (!res.ok) throw new Error(`${path}: ${await errorText(res)}`);
  return (await res.json()) as T;
}

async function errorText(res: Response): Promise<string> {
  const code = res.headers.get('x-weft-error') ?? String(res.status);
  try {
    const body = (await res.json()) as { message?: string };
    return `${code}: ${body.message ?? ''}`;
  } catch {
    return code;
  }
}
