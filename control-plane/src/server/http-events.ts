/**
 * GET /v1/events: server-sent events for the dashboard. Each event is
 *
 *   event: change
 *   data: {"topics":["services","agents"]}
 *
 * naming what to re-fetch (topics in change-feed.ts); a comment line every
 * 15 s keeps proxies from closing an idle stream. Same auth as every other
 * read (the caller checks it before handing the request here).
 *
 * Bounded: at most `maxStreams` open streams (more get 503
 * `too_many_streams`), and a client that does not read is cut off once
 * 64 KiB wait in its socket; it reconnects and re-fetches everything, which
 * is what a fresh page does anyway.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_HEADER } from '@weft/shared';
import type { ChangeFeed, FeedTopic } from './change-feed.js';

export const MAX_EVENT_STREAMS = 100;
const MAX_UNSENT_BYTES = 64 * 1024;
const KEEPALIVE_MS = 15_000;

export function eventFrame(topics: readonly FeedTopic[]): string {
  return `event: change\ndata: ${JSON.stringify({ topics })}\n\n`;
}

export class EventStreams {
  private open = 0;

  constructor(
    private readonly feed: ChangeFeed,
    private readonly maxStreams = MAX_EVENT_STREAMS,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.open >= this.maxStreams) {
      res.statusCode = 503;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.setHeader(ERROR_HEADER, 'too_many_streams');
      res.setHeader('retry-after', '10');
      res.end(`${JSON.stringify({ error: 'too_many_streams', message: `at most ${this.maxStreams} event streams may be open` })}\n`);
      return;
    }
    this.open++;
    res.statusCode = 200;
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    res.write('retry: 3000\n: connected\n\n');

    const send = (text: string): void => {
      if (res.writableLength > MAX_UNSENT_BYTES) {
        res.destroy();
        return;
      }
      res.write(text);
    };
    const unsubscribe = this.feed.subscribe((topics) => send(eventFrame(topics)));
    const keepalive = setInterval(() => send(': keep-alive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    let done = false;
    const end = (): void => {
      if (done) return;
      done = true;
      this.open--;
      clearInterval(keepalive);
      unsubscribe();
    };
    res.once('close', end);
    req.once('close', end);
  }
}
