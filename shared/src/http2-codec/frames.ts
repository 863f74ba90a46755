/**
 * HTTP/2 frame layout (RFC 9113 §4, §6): types, flags, error codes,
 * settings identifiers, and the writers of each frame the agent sends. A
 * frame is a 9-byte header (24-bit length, type, flags, 31-bit stream id)
 * and its payload.
 */

export const FRAME_HEADER = 9;
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export enum FrameType {
  DATA = 0x0,
  HEADERS = 0x1,
  PRIORITY = 0x2,
  RST_STREAM = 0x3,
  SETTINGS = 0x4,
  PUSH_PROMISE = 0x5,
  PING = 0x6,
  GOAWAY = 0x7,
  WINDOW_UPDATE = 0x8,
  CONTINUATION = 0x9,
}

/** Frame flags (END_STREAM on DATA and HEADERS, ACK on SETTINGS and PING: the same bit). */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** Error codes (RFC 9113 §7); the numbers node's http2 `constants.NGHTTP2_*` use too. */
export const H2Error = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

const ERROR_NAMES = new Map<number, string>(Object.entries(H2Error).map(([k, v]) => [v, k]));
export function errorName(code: number): string {
  return ERROR_NAMES.get(code) ?? `0x${code.toString(16)}`;
}

export enum Setting {
  HEADER_TABLE_SIZE = 0x1,
  ENABLE_PUSH = 0x2,
  MAX_CONCURRENT_STREAMS = 0x3,
  INITIAL_WINDOW_SIZE = 0x4,
  MAX_FRAME_SIZE = 0x5,
  MAX_HEADER_LIST_SIZE = 0x6,
}

export const DEFAULT_WINDOW = 65_535;
export const DEFAULT_MAX_FRAME = 16_384;
export const MAX_WINDOW = 2 ** 31 - 1;
export const MAX_STREAM_ID = 2 ** 31 - 1;

/** Writes a frame's 9-byte header at the start of `target`. */
function writeFrameHeader(target: Buffer, length: number, type: FrameType, flags: number, streamId: number): void {
  target[0] = (length >>> 16) & 0xff;
  target[1] = (length >>> 8) & 0xff;
  target[2] = length & 0xff;
  target[3] = type;
  target[4] = flags;
  target.writeUInt32BE(streamId, 5);
}

export function frameHeader(length: number, type: FrameType, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER);
  writeFrameHeader(h, length, type, flags, streamId);
  return h;
}

/** A frame with its payload in one buffer (for small payloads). */
export function frame(type: FrameType, flags: number, streamId: number, payload?: Buffer): Buffer {
  const length = payload?.length ?? 0;
  const f = Buffer.allocUnsafe(FRAME_HEADER + length);
  writeFrameHeader(f, length, type, flags, streamId);
  if (payload !== undefined) payload.copy(f, FRAME_HEADER);
  return f;
}

export function settingsFrame(settings: ReadonlyArray<readonly [Setting, number]>): Buffer {
  const p = Buffer.allocUnsafe(settings.length * 6);
  settings.forEach(([id, value], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, p);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(increment, 0);
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, p);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const p = Buffer.allocUnsafe(4);
  p.writeUInt32BE(code, 0);
  return frame(FrameType.RST_STREAM, 0, streamId, p);
}

export function goawayFrame(lastStreamId: number, code: number, debug = ''): Buffer {
  const d = Buffer.from(debug, 'utf8');
  const p = Buffer.allocUnsafe(8 + d.length);
  p.writeUInt32BE(lastStreamId, 0);
  p.writeUInt32BE(code, 4);
  d.copy(p, 8);
  return frame(FrameType.GOAWAY, 0, 0, p);
}

/** A header block as HEADERS plus CONTINUATION frames of at most `maxFrame` bytes each. */
export function headersFrames(streamId: number, block: Buffer, endStream: boolean, maxFrame: number): Buffer[] {
  const endFlag = endStream ? Flag.END_STREAM : 0;
  if (block.length <= maxFrame) return [frame(FrameType.HEADERS, endFlag | Flag.END_HEADERS, streamId, block)];
  const out: Buffer[] = [];
  for (let at = 0; at < block.length; at += maxFrame) {
    const part = block.subarray(at, at + maxFrame);
    const last = at + maxFrame >= block.length;
    const type = at === 0 ? FrameType.HEADERS : FrameType.CONTINUATION;
    const flags = (at === 0 ? endFlag : 0) | (last ? Flag.END_HEADERS : 0);
    out.push(frame(type, flags, streamId, part));
  }
  return out;
}
