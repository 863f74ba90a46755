// Original file: proto/weft/v1/registry.proto


export interface DeregisterRequest {
  'agent_id'?: (string);
  'instance_ids'?: (string)[];
}

export interface DeregisterRequest__Output {
  'agent_id': (string);
  'instance_ids': (string)[];
}
