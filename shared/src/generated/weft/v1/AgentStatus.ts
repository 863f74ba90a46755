// Original file: proto/weft/v1/registry.proto

import type { AgentInfo as _weft_v1_AgentInfo, AgentInfo__Output as _weft_v1_AgentInfo__Output } from '../../weft/v1/AgentInfo.js';
import type { ResourceState as _weft_v1_ResourceState, ResourceState__Output as _weft_v1_ResourceState__Output } from '../../weft/v1/ResourceState.js';
import type { Long } from '@grpc/proto-loader';

export interface AgentStatus {
  'agent'?: (_weft_v1_AgentInfo | null);
  'connected'?: (boolean);
  'lease_expires_at_ms'?: (number | string | Long);
  'instances'?: (number);
  'resources'?: (_weft_v1_ResourceState)[];
  'pending_nonce'?: (string);
  'cert_expires_at_ms'?: (number | string | Long);
  'cert_serial'?: (string);
  'revoked'?: (boolean);
  'disconnected_at_ms'?: (number | string | Long);
}

export interface AgentStatus__Output {
  'agent': (_weft_v1_AgentInfo__Output | null);
  'connected': (boolean);
  'lease_expires_at_ms': (string);
  'instances': (number);
  'resources': (_weft_v1_ResourceState__Output)[];
  'pending_nonce': (string);
  'cert_expires_at_ms': (string);
  'cert_serial': (string);
  'revoked': (boolean);
  'disconnected_at_ms': (string);
}
