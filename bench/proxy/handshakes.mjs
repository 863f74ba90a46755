// mTLS handshakes an agent's inbound listener accepts on one core: agent B
// (pinned to CPU 0) takes full TLS 1.3 handshakes with client certificates
// (no resumption: `openssl s_time -new`) from `parallel` s_time processes on
// CPU 1, presenting agent A's mesh certificate. Counted on B's side:
// weft_inbound_tls_connections_total and B's CPU time, so the figure is B's
// cost per handshake whatever the client's speed.
import { join } from 'node:path';
import { clockTicks, ticks } from './cpu.mjs';
import { runToEnd, which } from './procs.mjs';
import { httpCall } from './weft.mjs';

async function acceptedHandshakes(agent) {
  const r = await httpCall({ port: agent.ready.adminPort, path: '/metrics' });
  let n = 0;
  for (const line of r.body.split('\n')) if (line.startsWith('weft_inbound_tls_connections_total{')) n += Number(line.split(' ').pop());
  return n;
}

/** { handshakes, seconds, perSec, cpuUsPerHandshake, cpuPct, perCoreSec } or null when openssl is missing. */
export async function handshakeRate({ server, client, seconds = 5, parallel = 3, note }) {
  if (!which('openssl')) return note('handshakes: openssl not installed, skipped');
  const id = join(client.dir, 'identity');
  const n0 = await acceptedHandshakes(server);
  const t0 = ticks([server.proc.pid]);
  const started = process.hrtime.bigint();
  const runs = await Promise.all(
    Array.from({ length: parallel }, () =>
      runToEnd(
        [
          'openssl',
          's_time',
          '-connect',
          `127.0.0.1:${server.ready.inboundPort}`,
          '-new',
          '-cert',
          join(id, 'agent.crt'),
          '-key',
          join(id, 'agent.key'),
          '-CAfile',
          join(id, 'ca-bundle.crt'),
          '-time',
          String(seconds),
        ],
        { cpu: 1 },
      ),
    ),
  );
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  const t1 = ticks([server.proc.pid]);
  const n1 = await acceptedHandshakes(server);
  const failed = runs.filter((r) => r.code !== 0);
  if (failed.length > 0) note(`handshakes: s_time exited ${failed[0].code}: ${failed[0].stderr.trim().split('\n').pop()}`);
  const handshakes = n1 - n0;
  const cpuS = (t1 - t0) / clockTicks();
  return {
    handshakes,
    seconds: Math.round(wall * 10) / 10,
    perSec: Math.round(handshakes / wall),
    cpuUsPerHandshake: handshakes > 0 ? Math.round((cpuS * 1e6) / handshakes) : null,
    cpuPct: Math.round((cpuS / wall) * 100),
    // What one fully busy core would accept at that cost.
    perCoreSec: handshakes > 0 && cpuS > 0 ? Math.round(handshakes / cpuS) : null,
  };
}
