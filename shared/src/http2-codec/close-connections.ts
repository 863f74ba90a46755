/**
 * Graceful close of a server's HTTP/2 connections: GOAWAY on each (no new
 * streams; open ones finish), then the connections still open after
 * `graceMs` are destroyed. Resolves once every one has closed.
 */
import type { H2Connection } from './connection.js';

export async function closeConnections(connections: ReadonlySet<H2Connection>, graceMs: number): Promise<void> {
  if (connections.size === 0) return;
  const all = [...connections].map((c) => new Promise<void>((resolve) => (c.destroyed ? resolve() : c.once('close', () => resolve()))));
  for (const c of connections) c.close();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), graceMs);
  });
  const late = await Promise.race([Promise.all(all).then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    for (const c of connections) c.destroy();
    await Promise.all(all);
  }
}
