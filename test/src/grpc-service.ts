/**
 * A real gRPC service (grpc-js) for the end-to-end tests, without a .proto:
 * messages are raw bytes, so sizes and contents are exact. Methods of
 * `test.Echo`:
 *   Unary         answers the request's bytes; metadata `x-sleep-ms` waits
 *                 first (until cancelled), `x-status` fails with that code,
 *                 `x-deadline` answers the ms left of the call's deadline,
 *                 `x-no-head` sends no response head before the answer.
 *   ServerStream  the request is JSON {count, size, delayMs}: that many
 *                 messages of `size` bytes (value = index % 256).
 *   ClientStream  answers JSON {count, bytes} of what it received.
 *   Bidi          echoes every message as it arrives.
 * Every call is written down (method, cancelled) so tests can see what
 * reached the app and whether a cancel arrived. Every answer carries
 * `x-served-by: <name>` (initial metadata, or the status's metadata). A
 * service started with `failWith` fails every call with that status
 * before any answer byte (trailers-only), after reading the whole request.
 */
import grpc from '@grpc/grpc-js';

const raw = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};

export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Unary: { path: '/test.Echo/Unary', requestStream: false, responseStream: false, ...raw },
  ServerStream: { path: '/test.Echo/ServerStream', requestStream: false, responseStream: true, ...raw },
  ClientStream: { path: '/test.Echo/ClientStream', requestStream: true, responseStream: false, ...raw },
  Bidi: { path: '/test.Echo/Bidi', requestStream: true, responseStream: true, ...raw },
};

export const MAX_MESSAGE = 64 * 1024 * 1024;
export const GRPC_OPTIONS = { 'grpc.max_receive_message_length': MAX_MESSAGE, 'grpc.max_send_message_length': MAX_MESSAGE };

export interface CallRecord {
  method: string;
  /** A unary call's request, as text. */
  request?: string;
  cancelled: boolean;
  ended: boolean;
}

export interface GrpcTestService {
  port: number;
  calls: CallRecord[];
  /** Resolves when a call matching `which` has been cancelled at the app. */
  cancelled(which: (c: CallRecord) => boolean): Promise<void>;
  close(): Promise<void>;
}

function meta(call: grpc.ServerUnaryCall<Buffer, Buffer> | grpc.ServerWritableStream<Buffer, Buffer>, name: string): string | undefined {
  const v = call.metadata.get(name)[0];
  return v === undefined ? undefined : String(v);
}

export async function startGrpcService(opts: { name?: string; failWith?: number } = {}): Promise<GrpcTestService> {
  const name = opts.name ?? 'echo';
  const served = new grpc.Metadata();
  served.set('x-served-by', name);
  const failure = (): Partial<grpc.StatusObject> => ({ code: opts.failWith, details: `${name} fails`, metadata: served.clone() });
  const calls: CallRecord[] = [];
  const waiters: { which: (c: CallRecord) => boolean; resolve: () => void }[] = [];
  const record = (method: string, call: { on(e: 'cancelled', f: () => void): unknown }): CallRecord => {
    const r: CallRecord = { method, cancelled: false, ended: false };
    calls.push(r);
    call.on('cancelled', () => {
      r.cancelled = true;
      for (const w of waiters.filter((x) => x.which(r))) w.resolve();
    });
    return r;
  };
  const server = new grpc.Server(GRPC_OPTIONS);
  server.addService(ECHO_SERVICE, {
    Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const r = record('Unary', call);
      r.request = call.request.toString();
      if (opts.failWith !== undefined) return cb(failure());
      // `x-no-head`: send nothing before the answer (grpc-js otherwise sends its head with the message).
      if (meta(call, 'x-no-head') === undefined) call.sendMetadata(served.clone());
      const status = meta(call, 'x-status');
      if (status !== undefined) return cb({ code: Number(status), details: 'as asked' });
      if (meta(call, 'x-deadline') !== undefined) {
        const d = call.getDeadline();
        const left = d instanceof Date ? d.getTime() - Date.now() : Number.isFinite(d) ? d - Date.now() : -1;
        return cb(null, Buffer.from(JSON.stringify({ left })));
      }
      const sleep = Number(meta(call, 'x-sleep-ms') ?? 0);
      const answer = () => {
        r.ended = true;
        cb(null, call.request);
      };
      if (sleep > 0) {
        const t = setTimeout(answer, sleep);
        call.on('cancelled', () => clearTimeout(t));
      } else answer();
    },
    ServerStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const r = record('ServerStream', call);
      if (opts.failWith !== undefined) return void call.emit('error', failure());
      call.sendMetadata(served.clone());
      const { count, size, delayMs } = JSON.parse(call.request.toString()) as { count: number; size: number; delayMs?: number };
      let i = 0;
      const next = (): void => {
        while (i < count && !r.cancelled) {
          const ok = call.write(Buffer.alloc(size, i % 256));
          i++;
          if (delayMs) return void setTimeout(next, delayMs);
          if (!ok) return void call.once('drain', next);
        }
        if (!r.cancelled) {
          r.ended = true;
          call.end();
        }
      };
      next();
    },
    ClientStream: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      record('ClientStream', call);
      let count = 0;
      let bytes = 0;
      call.on('data', (m: Buffer) => {
        count++;
        bytes += m.length;
      });
      call.on('end', () => (opts.failWith !== undefined ? cb(failure()) : cb(null, Buffer.from(JSON.stringify({ count, bytes, name })))));
    },
    Bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      record('Bidi', call);
      call.on('data', (m: Buffer) => call.write(m));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    calls,
    cancelled: (which) =>
      new Promise<void>((resolve) => {
        if (calls.some((c) => c.cancelled && which(c))) return resolve();
        waiters.push({ which, resolve });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

/** A generic client of test.Echo that calls `service` through an agent's outbound listener (h2c, :authority = service). */
export function echoClient(outboundPort: number, service: string): grpc.Client & Record<string, (...a: unknown[]) => unknown> {
  const Ctor = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  return new Ctor(`127.0.0.1:${outboundPort}`, grpc.credentials.createInsecure(), {
    ...GRPC_OPTIONS,
    'grpc.default_authority': service,
  }) as unknown as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
}
