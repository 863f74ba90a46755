// Original file: proto/weft/v1/discovery.proto

import type { Resource as _weft_v1_Resource, Resource__Output as _weft_v1_Resource__Output } from '../../weft/v1/Resource.js';

export interface DiscoveryResponse {
  'nonce'?: (string);
  'revision'?: (string);
  'resources'?: (_weft_v1_Resource)[];
  'removed'?: (string)[];
  'not_found'?: (string)[];
}

export interface DiscoveryResponse__Output {
  'nonce': (string);
  'revision': (string);
  'resources': (_weft_v1_Resource__Output)[];
  'removed': (string)[];
  'not_found': (string)[];
}
