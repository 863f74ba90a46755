// Original file: proto/weft/v1/registry.proto


export interface AgentInfo {
  'agent_id'?: (string);
  'hostname'?: (string);
  'address'?: (string);
  'inbound_port'?: (number);
  'zone'?: (string);
  'version'?: (string);
}

export interface AgentInfo__Output {
  'agent_id': (string);
  'hostname': (string);
  'address': (string);
  'inbound_port': (number);
  'zone': (string);
  'version': (string);
}
