// Original file: proto/weft/v1/discovery.proto

import type { AgentInfo as _weft_v1_AgentInfo, AgentInfo__Output as _weft_v1_AgentInfo__Output } from '../../weft/v1/AgentInfo.js';
import type { ResourceError as _weft_v1_ResourceError, ResourceError__Output as _weft_v1_ResourceError__Output } from '../../weft/v1/ResourceError.js';

export interface DiscoveryRequest {
  'agent'?: (_weft_v1_AgentInfo | null);
  'subscribe'?: (string)[];
  'unsubscribe'?: (string)[];
  'initial_versions'?: ({[key: string]: string});
  'response_nonce'?: (string);
  'errors'?: (_weft_v1_ResourceError)[];
}

export interface DiscoveryRequest__Output {
  'agent': (_weft_v1_AgentInfo__Output | null);
  'subscribe': (string)[];
  'unsubscribe': (string)[];
  'initial_versions': ({[key: string]: string});
  'response_nonce': (string);
  'errors': (_weft_v1_ResourceError__Output)[];
}
