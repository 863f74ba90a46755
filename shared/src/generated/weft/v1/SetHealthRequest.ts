// Original file: proto/weft/v1/registry.proto

import type { Health as _weft_v1_Health, Health__Output as _weft_v1_Health__Output } from '../../weft/v1/Health.js';

export interface SetHealthRequest {
  'agent_id'?: (string);
  'instance_id'?: (string);
  'health'?: (_weft_v1_Health);
  'output'?: (string);
}

export interface SetHealthRequest__Output {
  'agent_id': (string);
  'instance_id': (string);
  'health': (_weft_v1_Health__Output);
  'output': (string);
}
