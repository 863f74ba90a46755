/**
 * Live updates: reads GET /v1/events (server-sent events) with fetch rather
 * than EventSource, so the stream carries the same `authorization` header as
 * every other request and the token never appears in a URL or a log. Each
 * `change` event names topics; the caller re-fetches what they cover.
 * Reconnects with a growing delay (1 s .. 15 s) after any failure.
 */
import { AuthError, authHeaders } from './api.js';

export type Topic = 'services' | 'agents' | 'config' | 'stats';
export type LiveState = 'connecting' | 'live' | 'offline' | 'unauthorized';

export interface LiveHandlers {
  onTopics(topics: Topic[]): void;
  onState(state: LiveState): void;
}

/** Parses SSE text; returns the unparsed tail (an incomplete event). */
export function parseEvents(buffer: string, onEvent: (event: string, data: string) => void): string {
  const blocks = buffer.split(/\r?\n\r?\n/);
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) onEvent(event, data.join('\n'));
  }
  return rest;
}

/** Starts listening; returns the function that stops it. */
export function listen(handlers: LiveHandlers): () => void {
  let stopped = false;
  let controller: AbortController | undefined;
  let delayMs = 1000;

  const once = async (): Promise<void> => {
    controller = new AbortController();
    handlers.onState('connecting');
    const res = await fetch('/v1/events', { headers: { accept: 'text/event-stream', ...authHeaders() }, signal: controller.signal });
    if (res.status === 401 || res.status === 403) throw new AuthError('token required');
    if (!res.ok || !res.body) throw new Error(`/v1/events: HTTP ${res.status}`);
    handlers.onState('live');
    delayMs = 1000;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer = parseEvents(buffer + value, (event, data) => {
        if (event !== 'change') return;
        const topics = (JSON.parse(data) as { topics?: Topic[] }).topics;
        if (Array.isArray(topics)) handlers.onTopics(topics);
      });
    }
  };

  const loop = async (): Promise<void> => {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        if (stopped) return;
        if (err instanceof AuthError) {
          handlers.onState('unauthorized');
          return;
        }
      }
      if (stopped) return;
      handlers.onState('offline');
      await new Promise((r) => setTimeout(r, delayMs));
      delayMs = Math.min(delayMs * 2, 15_000);
      // What happened while offline is unknown: everything is re-fetched.
      handlers.onTopics(['services', 'agents', 'config', 'stats']);
    }
  };
  void loop();
  return () => {
    stopped = true;
    controller?.abort();
  };
}
