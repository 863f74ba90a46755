// Original file: proto/weft/v1/trust.proto


export interface RevokeAgentRequest {
  'agent_id'?: (string);
  'reason'?: (string);
}

export interface RevokeAgentRequest__Output {
  'agent_id': (string);
  'reason': (string);
}
