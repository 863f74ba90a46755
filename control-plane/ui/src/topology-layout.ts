/**
 * Positions for the topology graph: services on a circle in name order (so a
 * service keeps its place while traffic comes and goes), each edge a straight
 * line from the rim of its source to the rim of its destination, shortened so
 * the arrowhead is visible.
 */

export interface Point {
  x: number;
  y: number;
}

export interface Layout {
  width: number;
  height: number;
  radius: number;
  nodes: Map<string, Point>;
}

export const NODE_RADIUS = 34;

export function circleLayout(names: readonly string[], width = 720, height = 520): Layout {
  const sorted = [...new Set(names)].sort();
  const cx = width / 2;
  const cy = height / 2;
  const r = sorted.length <= 1 ? 0 : Math.min(width, height) / 2 - NODE_RADIUS - 40;
  const nodes = new Map<string, Point>();
  sorted.forEach((name, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / sorted.length;
    nodes.set(name, { x: cx + r * Math.cos(angle), y: cy + r * Math.sin(angle) });
  });
  return { width, height, radius: NODE_RADIUS, nodes };
}

/** The segment between two node rims; `bend` offsets both ends sideways so A→B and B→A do not overlap. */
export function edgeSegment(from: Point, to: Point, radius: number, bend = 6): { a: Point; b: Point; mid: Point } {
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  const len = Math.hypot(dx, dy) || 1;
  const ux = dx / len;
  const uy = dy / len;
  const ox = -uy * bend;
  const oy = ux * bend;
  const a = { x: from.x + ux * radius + ox, y: from.y + uy * radius + oy };
  const b = { x: to.x - ux * (radius + 4) + ox, y: to.y - uy * (radius + 4) + oy };
  return { a, b, mid: { x: (a.x + b.x) / 2 + ox, y: (a.y + b.y) / 2 + oy } };
}
