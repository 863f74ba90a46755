/**
 * Accepted connections that read into one shared buffer (net's `onread`
 * option), as the upstream sockets already do (client-connection.ts).
 *
 * Why: node offers `onread` only to sockets it creates with a handle it is
 * given or connects itself, not to those a net.Server accepts. Those read
 * through a Readable stream: a new 64 KiB buffer per read and a push and
 * 'data' event per chunk. On the mesh path (wrk -> agent A -> agent B -> app)
 * reading accepted sockets through `onread` cut the two agents' CPU per
 * request by 14-19 % (docs/data-plane.md).
 *
 * How: after listen(), the listening handle's `onconnection` (the C++
 * handle's callback, which net.Server installs) is replaced by one that
 * builds the Socket itself, with `onread`, and keeps net.Server's own
 * connection count (`_connections`, `server`) so close() still waits for
 * the connections. These are node internals (stable from Node 12 to 22, our
 * `engines` range); when they are not there, `installSharedReadAccept`
 * returns false and the server keeps node's own accept path ('connection').
 *
 * Contract of the callback: `buf` is the shared buffer, valid only until the
 * callback returns; whatever outlives it must be copied.
 */
import { type Server, Socket } from 'node:net';

/** One buffer for every accepted socket of the process: reads are handled synchronously, one at a time. */
const SERVER_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Called for each read: `nread` bytes at the start of `buf`. */
export type SharedReadCallback = (nread: number, buf: Buffer) => void;

/** The internals of a listening net.Server that this file relies on. */
interface ListeningServer {
  _handle?: { onconnection?: unknown } | null;
  _connections?: unknown;
}

/**
 * Makes `server` (listening) hand each accepted socket to `onSocket`, which
 * returns the socket's read callback. `allowHalfOpen` must be the server's
 * own option (net.Server applies it to the sockets it accepts; no-delay is
 * left to `onSocket`). False (and nothing changed) when the server's
 * internals are not as expected.
 */
export function installSharedReadAccept(
  server: Server,
  allowHalfOpen: boolean,
  onSocket: (socket: Socket) => SharedReadCallback,
  onAcceptError: (errno: number) => void,
): boolean {
  const internals = server as unknown as ListeningServer;
  const handle = internals._handle;
  if (handle == null || typeof handle.onconnection !== 'function' || typeof internals._connections !== 'number') return false;
  handle.onconnection = (errno: number, clientHandle: unknown): void => {
    if (errno) {
      // As net.Server would report it ('error'), without taking the listener down (EMFILE and the like pass).
      onAcceptError(errno);
      return;
    }
    let onRead: SharedReadCallback | undefined;
    const socket = new Socket({
      handle: clientHandle,
      allowHalfOpen,
      readable: true,
      writable: true,
      onread: { buffer: SERVER_READ_BUFFER, callback: (nread: number, buf: Uint8Array) => onRead?.(nread, buf as Buffer) },
    } as ConstructorParameters<typeof Socket>[0]);
    // net.Server's bookkeeping, so close() waits for this connection as for its own.
    internals._connections = (internals._connections as number) + 1;
    const counted = socket as unknown as { server: Server; _server: Server };
    counted.server = server;
    counted._server = server;
    onRead = onSocket(socket);
  };
  return true;
}
