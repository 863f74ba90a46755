/**
 * Encodes each discovery resource once, however many streams send it. The
 * translator hands out one immutable Resource object per resource version
 * (translate.ts), so its protobuf bytes are cached by object identity: a
 * response is then its small head (nonce, revision, removed, not_found)
 * followed by the cached `resources` fields. Protobuf allows fields in any
 * order and keeps repeated fields in the order they appear, so the result
 * decodes exactly like the plain encoding.
 *
 * Contract: a Resource object must not be mutated after it was first sent
 * (translate.ts builds them once and never changes them). Objects that are not
 * shared just miss the cache; the WeakMap lets them go with their entry.
 */
import type { DiscoveryResponse } from '@weft/shared/generated/weft/v1/DiscoveryResponse';

type Serialize = (value: DiscoveryResponse) => Buffer;

export function cachingResponseSerializer(base: Serialize): Serialize {
  const fields = new WeakMap<object, Buffer>();
  return (msg) => {
    const resources = msg.resources ?? [];
    if (resources.length === 0) return base(msg);
    const parts: Buffer[] = [base({ ...msg, resources: [] })];
    for (const r of resources) {
      let bytes = fields.get(r);
      if (!bytes) {
        // A response holding only this resource is exactly its field: tag, length, message.
        bytes = base({ resources: [r] });
        fields.set(r, bytes);
      }
      parts.push(bytes);
    }
    return Buffer.concat(parts);
  };
}
