// The reference proxies, configured like /work/shared/bench-peers: nginx (1
// worker, upstream keepalive 64), HAProxy (1 thread, http-reuse always) and a
// plain undici Pool proxy. Configs go into the run's temp dir; ports are
// chosen free at run time. Each start* returns a target { name, port, pids,
// host } or null (with a printed note) when the program is not available.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, runToEnd, start, waitForPort, which } from './procs.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const PROXY_CPU = 0;

export async function startUpstream() {
  const port = await freePort();
  const proc = start([process.execPath, join(here, 'upstream.mjs'), String(port)], { cpu: 1, name: 'upstream' });
  await waitForPort(port, proc);
  return { name: 'direct', port, pids: [proc.pid], procs: [proc] };
}

/** The start of an nginx config: one worker, in the foreground, its files under `dir`. */
export function nginxHead(dir) {
  return `worker_processes 1;
daemon off;
error_log stderr error;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
`;
}

/** The nginx binary (PATH, else Debian's /usr/sbin), or null when nginx is not installed. */
export function nginxBin() {
  return which('nginx') ?? (which('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null);
}

/** Runs nginx in the foreground with the config `dir`/nginx.conf, pinned to the proxy CPU. */
export function runNginx(bin, dir, name) {
  // -e: nginx 1.19.5+ opens its default error log before reading the config; send it to stderr.
  return start([bin, '-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf')], { cpu: PROXY_CPU, name });
}

export async function startNginx(tmp, upstreamPort, note) {
  const bin = nginxBin();
  if (!bin) return note('nginx: not installed, skipped (apt-get install nginx-light)');
  const dir = join(tmp, 'nginx');
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const port = await freePort();
  const conf = `${nginxHead(dir)}  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const proc = runNginx(bin, dir, 'nginx');
  await waitForPort(port, proc);
  return { name: 'nginx', port, pids: [proc.pid], procs: [proc] };
}

/** A throwaway ECDSA P-256 CA with a server and a client certificate (as bench-peers/mtls/gen-certs.sh). */
async function meshCerts(dir) {
  mkdirSync(dir, { recursive: true });
  const script = `set -eu; cd "${dir}"
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -subj /CN=bench-ca -days 2 -out ca.crt 2>/dev/null
for who in server client; do
  openssl ecparam -name prime256v1 -genkey -noout -out $who.key
  san="URI:spiffe://bench.local/svc/up,DNS:up"; [ $who = client ] && san="URI:spiffe://bench.local/svc/web"
  openssl req -new -key $who.key -subj /CN=$who -out $who.csr 2>/dev/null
  printf 'subjectAltName=%s\\nextendedKeyUsage=serverAuth,clientAuth\\n' "$san" > $who.ext
  openssl x509 -req -in $who.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile $who.ext -out $who.crt 2>/dev/null
done`;
  const r = await runToEnd(['bash', '-c', script]);
  if (r.code !== 0) throw new Error(`making certificates: ${r.stderr.trim()}`);
}

/**
 * The mesh path's first nginx hop: plaintext in on `port`, out over mTLS 1.3 (client
 * certificate, server verified, upstream keep-alive, session reuse) to the second hop on `inner`.
 */
function outerHopConf(port, inner, certs) {
  return `  upstream inbound { server 127.0.0.1:${inner}; keepalive 64; keepalive_requests 10000000; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass https://inbound; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_ssl_certificate ${certs}/client.crt; proxy_ssl_certificate_key ${certs}/client.key;
      proxy_ssl_trusted_certificate ${certs}/ca.crt; proxy_ssl_verify on; proxy_ssl_name up;
      proxy_ssl_protocols TLSv1.3; proxy_ssl_session_reuse on;
    }
  }
`;
}

/** The mesh path's second nginx hop: mTLS 1.3 in on `inner` (client certificate required), plaintext keep-alive to the app. */
function innerHopConf(inner, upstreamPort, certs) {
  return `  upstream app { server 127.0.0.1:${upstreamPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${inner} ssl;
    ssl_certificate ${certs}/server.crt; ssl_certificate_key ${certs}/server.key;
    ssl_client_certificate ${certs}/ca.crt; ssl_verify_client on; ssl_protocols TLSv1.3;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
`;
}

/** A config for one nginx worker serving `blocks` (each hop's upstream and server). */
function mtlsConf(dir, ...blocks) {
  return `${nginxHead(dir)}  keepalive_requests 10000000;\n${blocks.join('')}}\n`;
}

/**
 * Two nginx hops with mutual TLS 1.3 between them, the shape of the mesh
 * path (bench-peers/mtls/nginx-mtls-chain.conf): wrk -> "outbound" server
 * (plaintext in) -> mTLS, upstream keep-alive, session reuse -> "inbound"
 * server -> upstream. One worker for both server blocks (one process).
 */
export async function startNginxMtls(tmp, upstreamPort, note) {
  const bin = nginxBin();
  if (!bin) return note('nginx-mtls: nginx not installed, skipped (apt-get install nginx-light)');
  if (!which('openssl')) return note('nginx-mtls: openssl not installed, skipped');
  const dir = join(tmp, 'nginx-mtls');
  const certs = join(dir, 'certs');
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  await meshCerts(certs);
  const port = await freePort();
  const inner = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), mtlsConf(dir, outerHopConf(port, inner, certs), innerHopConf(inner, upstreamPort, certs)));
  const proc = runNginx(bin, dir, 'nginx-mtls');
  await waitForPort(port, proc);
  return { name: 'nginx-mtls', port, pids: [proc.pid], procs: [proc] };
}

/**
 * The same two nginx hops with mTLS as nginx-mtls, but each hop its own nginx
 * process (one worker each, both on the proxy CPU): the shape of two agents,
 * where every request wakes both processes. Context for the mesh row, not a
 * target (the peer is nginx-mtls).
 */
export async function startNginxMtlsTwoProcesses(tmp, upstreamPort, note) {
  const bin = nginxBin();
  if (!bin) return note('nginx-mtls-2p: nginx not installed, skipped (apt-get install nginx-light)');
  if (!which('openssl')) return note('nginx-mtls-2p: openssl not installed, skipped');
  const certs = join(tmp, 'nginx-mtls-2p', 'certs');
  await meshCerts(certs);
  const port = await freePort();
  const inner = await freePort();
  const outerDir = join(tmp, 'nginx-mtls-2p', 'outer');
  const innerDir = join(tmp, 'nginx-mtls-2p', 'inner');
  for (const d of [outerDir, innerDir]) mkdirSync(join(d, 'tmp'), { recursive: true });
  writeFileSync(join(outerDir, 'nginx.conf'), mtlsConf(outerDir, outerHopConf(port, inner, certs)));
  writeFileSync(join(innerDir, 'nginx.conf'), mtlsConf(innerDir, innerHopConf(inner, upstreamPort, certs)));
  const innerProc = runNginx(bin, innerDir, 'nginx-mtls-2p inner');
  await waitForPort(inner, innerProc);
  const outerProc = runNginx(bin, outerDir, 'nginx-mtls-2p outer');
  await waitForPort(port, outerProc);
  return { name: 'nginx-mtls-2p', port, pids: [outerProc.pid, innerProc.pid], procs: [outerProc, innerProc] };
}

/**
 * The floor of two Node processes joined by mTLS (mtls-relay.mjs: bytes
 * relayed one connection to one connection, no HTTP): what the mesh row's two
 * agents would cost with none of the mesh. Context, not a target.
 */
export async function startNodeMtlsRelay(tmp, upstreamPort, note) {
  if (!which('openssl')) return note('node-mtls-relay: openssl not installed, skipped');
  const certs = join(tmp, 'node-mtls-relay', 'certs');
  await meshCerts(certs);
  const port = await freePort();
  const inner = await freePort();
  const script = join(here, 'mtls-relay.mjs');
  const innerProc = start([process.execPath, script, 'inner', String(inner), String(upstreamPort), certs], {
    cpu: PROXY_CPU,
    name: 'node-mtls-relay inner',
  });
  await waitForPort(inner, innerProc);
  const outerProc = start([process.execPath, script, 'outer', String(port), String(inner), certs], {
    cpu: PROXY_CPU,
    name: 'node-mtls-relay outer',
  });
  await waitForPort(port, outerProc);
  return { name: 'node-mtls-relay', port, pids: [outerProc.pid, innerProc.pid], procs: [outerProc, innerProc] };
}

export async function startHaproxy(tmp, upstreamPort, note) {
  const bin = which('haproxy') ?? (which('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : null);
  if (!bin) return note('haproxy: not installed, skipped (apt-get install haproxy)');
  const port = await freePort();
  const cfg = `global
  nbthread 1
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend f
  bind 127.0.0.1:${port}
  default_backend b
backend b
  http-reuse always
  server s1 127.0.0.1:${upstreamPort}
`;
  const file = join(tmp, 'haproxy.cfg');
  writeFileSync(file, cfg);
  const proc = start([bin, '-db', '-f', file], { cpu: PROXY_CPU, name: 'haproxy' });
  await waitForPort(port, proc);
  return { name: 'haproxy', port, pids: [proc.pid], procs: [proc] };
}

/** undici's entry point, looked up on NODE_PATH then from the repository root. */
export function resolveUndici(repoRoot) {
  const paths = [...(process.env.NODE_PATH ?? '').split(delimiter).filter(Boolean), repoRoot];
  try {
    return createRequire(join(repoRoot, 'package.json')).resolve('undici', { paths });
  } catch {
    return null;
  }
}

/** The plain undici proxy; nodeFlags go before the script (e.g. --cpu-prof). */
export async function startUndici(repoRoot, upstreamPort, note, nodeFlags = []) {
  const entry = resolveUndici(repoRoot);
  if (!entry) return note('undici proxy: undici not resolvable (NODE_PATH or the repo node_modules), skipped');
  const port = await freePort();
  const proc = start([process.execPath, ...nodeFlags, join(here, 'undici-proxy.mjs'), String(port), String(upstreamPort), entry], {
    cpu: PROXY_CPU,
    name: 'undici-proxy',
  });
  await waitForPort(port, proc);
  return { name: 'undici', port, pids: [proc.pid], procs: [proc] };
}
