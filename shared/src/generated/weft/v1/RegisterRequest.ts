// Original file: proto/weft/v1/registry.proto

import type { AgentInfo as _weft_v1_AgentInfo, AgentInfo__Output as _weft_v1_AgentInfo__Output } from '../../weft/v1/AgentInfo.js';
import type { Instance as _weft_v1_Instance, Instance__Output as _weft_v1_Instance__Output } from '../../weft/v1/Instance.js';

export interface RegisterRequest {
  'agent'?: (_weft_v1_AgentInfo | null);
  'instances'?: (_weft_v1_Instance)[];
  'replace_all'?: (boolean);
}

export interface RegisterRequest__Output {
  'agent': (_weft_v1_AgentInfo__Output | null);
  'instances': (_weft_v1_Instance__Output)[];
  'replace_all': (boolean);
}
