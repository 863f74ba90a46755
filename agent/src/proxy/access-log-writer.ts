/**
 * Where access-log lines go (access-log.ts): stdout or a file, written
 * asynchronously through a bounded buffer. Contract:
 *   - write() never blocks and never throws. Lines wait in memory up to
 *     `maxBufferBytes` (default 1 MiB, counted in UTF-16 units); a line that
 *     does not fit is dropped and counted (`onDropped`, the agent's
 *     weft_access_log_dropped_total). So a slow or full disk, or a stdout
 *     pipe nobody reads, costs at most that memory plus the one batch being
 *     written, and lines, never latency.
 *   - One fs.write at a time (libuv's thread pool: never the event loop),
 *     of everything buffered when it starts. EAGAIN (a non-blocking pipe that
 *     is full) is retried after a pause; any other write error drops the
 *     batch, counts its lines and logs a warning (at most one per minute).
 *   - The file is opened for append when the writer is made (openSync: a path
 *     that cannot be opened is a startup error, AccessLogOpenError).
 *     reopen() (the agent's SIGHUP, for logrotate) opens the path again after
 *     the batch in flight and closes the old descriptor; when the path cannot
 *     be opened the old one stays in use and a warning is logged.
 *   - close() writes what is buffered (bounded by `closeTimeoutMs`) and closes the file.
 */
import { close as closeFd, open, openSync, write } from 'node:fs';
import { type Logger, messageOf } from '@weft/shared';
import type { LineSink } from './access-log.js';

export type WriteFn = (
  fd: number,
  buf: Buffer,
  offset: number,
  length: number,
  cb: (err: NodeJS.ErrnoException | null, written: number) => void,
) => void;

export interface AccessLogWriterOptions {
  /** 'stdout', or a file path opened for append (created 0640 if missing). */
  target: string;
  logger: Logger;
  /** Called with the number of lines dropped (buffer full or a failed write). */
  onDropped?: (lines: number) => void;
  maxBufferBytes?: number;
  closeTimeoutMs?: number;
  /** The write call (tests: a disk that never answers). */
  writeFn?: WriteFn;
}

export class AccessLogOpenError extends Error {
  readonly code = 'access_log_open';
  constructor(
    readonly target: string,
    cause: unknown,
  ) {
    super(`cannot open ${target} for appending: ${messageOf(cause)}`);
    this.name = 'AccessLogOpenError';
  }
}

const DEFAULT_MAX_BUFFER_BYTES = 1 << 20;
const EAGAIN_RETRY_MS = 20;
const WARN_EVERY_MS = 60_000;

export class AccessLogWriter implements LineSink {
  private fd: number;
  private readonly isFile: boolean;
  private queue: string[] = [];
  private queuedBytes = 0;
  private writing = false;
  private reopenWanted = false;
  private closed = false;
  private lastWarnAt = 0;
  private idle: (() => void) | undefined;
  private readonly maxBufferBytes: number;
  private readonly writeFn: WriteFn;

  constructor(private readonly opts: AccessLogWriterOptions) {
    this.isFile = opts.target !== 'stdout';
    this.fd = this.isFile ? openFile(opts.target) : 1;
    this.maxBufferBytes = opts.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES;
    this.writeFn = opts.writeFn ?? write;
  }

  write(line: string): void {
    const size = line.length + 1;
    if (this.closed || this.queuedBytes + size > this.maxBufferBytes) {
      this.opts.onDropped?.(1);
      return;
    }
    this.queue.push(line);
    this.queuedBytes += size;
    if (!this.writing) this.flush();
  }

  /** Opens the file again after the write in flight (logrotate moved it); no-op for stdout. */
  reopen(): void {
    if (!this.isFile || this.closed) return;
    this.reopenWanted = true;
    if (!this.writing) this.flush();
  }

  /** Writes what is buffered (at most `closeTimeoutMs`, default 2 s), then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.writing || this.queue.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        timer = setTimeout(resolve, this.opts.closeTimeoutMs ?? 2_000);
        if (!this.writing) this.flush();
      });
      clearTimeout(timer);
    }
    if (this.isFile) closeFd(this.fd, () => {});
  }

  private flush(): void {
    if (this.reopenWanted) {
      this.reopenWanted = false;
      this.writing = true;
      open(this.opts.target, 'a', 0o640, (err, fd) => {
        if (err !== null) this.warn('cannot reopen the access log; writing on to the old file', err);
        else {
          closeFd(this.fd, () => {});
          this.fd = fd;
        }
        this.writing = false;
        this.flush();
      });
      return;
    }
    if (this.queue.length === 0) {
      this.idle?.();
      return;
    }
    const lines = this.queue.length;
    const buf = Buffer.from(`${this.queue.join('\n')}\n`);
    this.queue = [];
    this.queuedBytes = 0;
    this.writing = true;
    this.writeAll(buf, 0, lines);
  }

  private writeAll(buf: Buffer, offset: number, lines: number): void {
    this.writeFn(this.fd, buf, offset, buf.length - offset, (err, written) => {
      if (err !== null) {
        if (err.code === 'EAGAIN') {
          setTimeout(() => this.writeAll(buf, offset, lines), EAGAIN_RETRY_MS).unref();
          return;
        }
        this.opts.onDropped?.(lines);
        this.warn('access log write failed; lines dropped', err, { lines });
      } else if (offset + written < buf.length) {
        this.writeAll(buf, offset + written, lines);
        return;
      }
      this.writing = false;
      this.flush();
    });
  }

  private warn(msg: string, err: unknown, fields: Record<string, unknown> = {}): void {
    const now = Date.now();
    if (now - this.lastWarnAt < WARN_EVERY_MS) return;
    this.lastWarnAt = now;
    this.opts.logger.warn(msg, { target: this.opts.target, err: messageOf(err), ...fields });
  }
}

function openFile(path: string): number {
  try {
    return openSync(path, 'a', 0o640);
  } catch (err) {
    throw new AccessLogOpenError(path, err);
  }
}
