/**
 * A DiscoveryResponse as the simulated agents need it, read straight from its
 * protobuf bytes (proto/weft/v1/discovery.proto) instead of decoding every
 * field of every endpoint of every resource into objects.
 *
 * Why: with 1,000 simulated agents in one process, full decoding (strings for
 * ids, addresses, tags, metadata of ~10 endpoints per resource, then
 * toObject) was about a fifth of the load generator's CPU, and the generator
 * shares the two cores with the control planes it measures: its own
 * event-loop delay was as large as the propagation it reported.
 *
 * What is read: nonce, revision, removed, not_found, and per resource its
 * name and version (what an agent ACKs and holds). A resource's endpoints
 * stay bytes; `endpoints.service` and `endpoints.find(instanceId)` read the
 * one service name or the one endpoint (instance_id, weight, health) the
 * change tracker asks for. Unknown fields are skipped, as protobuf requires.
 */

const HEALTH = ['HEALTH_UNKNOWN', 'HEALTH_PASSING', 'HEALTH_WARNING', 'HEALTH_CRITICAL'];

/** Where the last varint read ended (module-level so reading allocates nothing). */
let cursor = 0;

/** Reads a varint at `pos` and leaves `cursor` after it. Values above 2^53 are not expected here. */
function varint(buf, pos) {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) {
      cursor = pos;
      return value;
    }
    scale *= 128;
  }
}

/**
 * Calls `onField(field, wireType, start, end, value)` for each field in
 * buf[start, end): for length-delimited fields (wire type 2) start/end bound
 * the payload; for varints `value` is the number. `onField` returning false stops.
 */
function eachField(buf, start, end, onField) {
  let pos = start;
  while (pos < end) {
    const key = varint(buf, pos);
    pos = cursor;
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const v = varint(buf, pos);
      pos = cursor;
      if (onField(field, 0, 0, 0, v) === false) return;
    } else if (wire === 2) {
      const len = varint(buf, pos);
      pos = cursor;
      if (pos + len > end) throw new Error('truncated field');
      if (onField(field, 2, pos, pos + len, 0) === false) return;
      pos += len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

/** The endpoints of one resource (ServiceEndpoints), kept as bytes. */
class LazyEndpoints {
  constructor(buf, start, end) {
    this.buf = buf;
    this.start = start;
    this.end = end;
  }

  get service() {
    let out = '';
    eachField(this.buf, this.start, this.end, (f, w, s, e) => {
      if (f === 1 && w === 2) {
        out = this.buf.toString('utf8', s, e);
        return false;
      }
    });
    return out;
  }

  /** The endpoint with this instance id as { instance_id, weight, health }, or undefined. */
  find(instanceId) {
    const want = Buffer.from(instanceId, 'utf8');
    let found;
    eachField(this.buf, this.start, this.end, (f, w, s, e) => {
      if (f !== 2 || w !== 2) return;
      let match = false;
      eachField(this.buf, s, e, (ef, ew, es, ee) => {
        if (ef === 1 && ew === 2) {
          match = ee - es === want.length && this.buf.compare(want, 0, want.length, es, ee) === 0;
          return false;
        }
      });
      if (!match) return;
      found = { instance_id: instanceId, weight: 0, health: HEALTH[0] };
      eachField(this.buf, s, e, (ef, ew, _es, _ee, v) => {
        if (ef === 8 && ew === 0) found.weight = v;
        else if (ef === 11 && ew === 0) found.health = HEALTH[v] ?? String(v);
      });
      return false;
    });
    return found;
  }
}

/** Decodes a DiscoveryResponse as described above; `__bytes` is its size on the wire. */
export function decodeDiscoveryResponse(buf) {
  const res = { nonce: '', revision: '', resources: [], removed: [], not_found: [], __bytes: buf.length };
  eachField(buf, 0, buf.length, (f, w, s, e) => {
    if (w !== 2) return;
    if (f === 1) res.nonce = buf.toString('utf8', s, e);
    else if (f === 2) res.revision = buf.toString('utf8', s, e);
    else if (f === 3) res.resources.push(decodeResource(buf, s, e));
    else if (f === 4) res.removed.push(buf.toString('utf8', s, e));
    else if (f === 5) res.not_found.push(buf.toString('utf8', s, e));
  });
  return res;
}

function decodeResource(buf, start, end) {
  const r = { name: '', version: '', endpoints: undefined };
  eachField(buf, start, end, (f, w, s, e) => {
    if (w !== 2) return;
    if (f === 1) r.name = buf.toString('utf8', s, e);
    else if (f === 2) r.version = buf.toString('utf8', s, e);
    else if (f === 3) r.endpoints = new LazyEndpoints(buf, s, e);
  });
  return r;
}
