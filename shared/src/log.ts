/**
 * One structured logger for every Weft program: one JSON object per line on
 * stderr (stdout belongs to the CLI's output). Fields such as `service`,
 * `agent` and `stream` go beside `msg` so operators can filter on them.
 * Tests and tools also read the `ready` event to learn the ports a process bound.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose every line also carries `fields`. */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  write?: (line: string) => void;
}

function levelFromEnv(): LogLevel {
  const v = process.env.WEFT_LOG_LEVEL;
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : 'info';
}

export function createLogger(base: LogFields = {}, options: LoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? levelFromEnv()];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const emit = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (ORDER[level] < min) return;
    const record: LogFields = { ts: new Date().toISOString(), level, ...base, msg, ...fields };
    for (const [k, v] of Object.entries(record)) {
      if (v instanceof Error) record[k] = v.message;
    }
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, options),
  };
}

/** A logger that drops everything (for unit tests that do not look at logs). */
export const silentLogger: Logger = createLogger({}, { level: 'error', write: () => {} });
