/**
 * The dashboard's static files (built by `npm run build` into
 * control-plane/dist/ui, see scripts/build-ui.mjs), read once at start and
 * served from memory under /ui/ with their content type, an ETag and a
 * strict Content-Security-Policy: everything from this origin only, no inline
 * script or style, no frames, no forms posting elsewhere.
 *
 * The files hold no mesh data, so they are served without a token; the data
 * endpoints they call keep the read rule (docs/dashboard.md).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotFoundError } from '@weft/shared';

export const UI_PREFIX = '/ui';
/** control-plane/dist/server/ -> control-plane/dist/ui/ */
export const DEFAULT_UI_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'ui');

export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

export class UiAssets {
  private readonly files = new Map<string, Asset>();

  /** Loads every file under `dir` with a known type; a missing dir leaves the dashboard unbuilt (404 with the fix). */
  constructor(readonly dir: string = DEFAULT_UI_DIR) {
    if (existsSync(dir)) this.load(dir, '');
  }

  get built(): boolean {
    return this.files.has('/index.html');
  }

  /** Whether `path` belongs to the dashboard (the caller routes it here). */
  static owns(path: string): boolean {
    return path === UI_PREFIX || path.startsWith(`${UI_PREFIX}/`);
  }

  serve(path: string, ifNoneMatch: string | undefined, res: ServerResponse, head: boolean): void {
    if (path === UI_PREFIX) {
      res.statusCode = 308;
      res.setHeader('location', `${UI_PREFIX}/`);
      res.end();
      return;
    }
    if (!this.built) throw new NotFoundError(`the dashboard is not built (no ${join(this.dir, 'index.html')}): run \`npm run build\``);
    const rest = path.slice(UI_PREFIX.length);
    const asset = this.files.get(rest === '/' ? '/index.html' : rest);
    if (!asset) throw new NotFoundError(`no such dashboard file: ${path}`);
    res.setHeader('content-security-policy', UI_CONTENT_SECURITY_POLICY);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('etag', asset.etag);
    if (ifNoneMatch === asset.etag) {
      res.statusCode = 304;
      res.end();
      return;
    }
    res.statusCode = 200;
    res.setHeader('content-type', asset.type);
    res.setHeader('content-length', asset.body.length);
    res.end(head ? undefined : asset.body);
  }

  private load(dir: string, prefix: string): void {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) {
        this.load(full, `${prefix}/${name}`);
        continue;
      }
      const type = CONTENT_TYPES[extname(name)];
      if (!type) continue;
      const body = readFileSync(full);
      this.files.set(`${prefix}/${name}`, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    }
  }
}
