/** Who calls whom: every service as a node, every edge seen in the last minute with its request and success rate. */
import { percent, rate } from '../format.js';
import { useResource } from '../live.js';
import { STATS_PATH } from '../stats.js';
import { circleLayout, edgeSegment } from '../topology-layout.js';
import type { ServicesResponse, StatsResponse } from '../types.js';
import { NoData } from './common.js';

function edgeClass(successRate: number | null): string {
  if (successRate === null) return 'edge';
  return successRate >= 0.99 ? 'edge good' : successRate >= 0.9 ? 'edge warn' : 'edge bad';
}

export function TopologyView() {
  const services = useResource<ServicesResponse>('/v1/services', ['services']);
  const stats = useResource<StatsResponse>(STATS_PATH, ['stats']);
  const edges = stats.data?.edges ?? [];
  const names = [...(services.data?.services.map((s) => s.name) ?? []), ...edges.flatMap((e) => [e.source, e.destination])];
  const layout = circleLayout(names);
  return (
    <section data-view="topology">
      <h1>Topology</h1>
      {edges.length === 0 && <NoData what="edges appear once agents report who calls whom (GET /v1/stats)" />}
      <svg
        class="topology"
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        width={layout.width}
        height={layout.height}
        role="img"
        aria-label="service topology"
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
          </marker>
        </defs>
        {edges.map((e) => {
          const from = layout.nodes.get(e.source);
          const to = layout.nodes.get(e.destination);
          if (!from || !to || e.source === e.destination) return null;
          const { a, b, mid } = edgeSegment(from, to, layout.radius);
          return (
            <g key={`${e.source}->${e.destination}`} class={edgeClass(e.successRate)} data-edge={`${e.source}->${e.destination}`}>
              <line x1={a.x} y1={a.y} x2={b.x} y2={b.y} marker-end="url(#arrow)" />
              <text x={mid.x} y={mid.y - 4} text-anchor="middle" class="edge-label">
                {rate(e.requestsPerSecond)} · {percent(e.successRate)}
              </text>
            </g>
          );
        })}
        {[...layout.nodes].map(([name, p]) => (
          <a key={name} href={`#/services/${encodeURIComponent(name)}`} data-node={name}>
            <circle cx={p.x} cy={p.y} r={layout.radius} class="node" />
            <text x={p.x} y={p.y + 4} text-anchor="middle" class="node-label">
              {name}
            </text>
          </a>
        ))}
      </svg>
    </section>
  );
}
