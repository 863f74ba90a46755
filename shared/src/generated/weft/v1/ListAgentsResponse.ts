// Original file: proto/weft/v1/registry.proto

import type { AgentStatus as _weft_v1_AgentStatus, AgentStatus__Output as _weft_v1_AgentStatus__Output } from '../../weft/v1/AgentStatus.js';

export interface ListAgentsResponse {
  'revision'?: (string);
  'agents'?: (_weft_v1_AgentStatus)[];
}

export interface ListAgentsResponse__Output {
  'revision': (string);
  'agents': (_weft_v1_AgentStatus__Output)[];
}
