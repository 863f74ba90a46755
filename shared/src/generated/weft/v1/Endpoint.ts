// Original file: proto/weft/v1/discovery.proto

import type { Health as _weft_v1_Health, Health__Output as _weft_v1_Health__Output } from '../../weft/v1/Health.js';

export interface Endpoint {
  'instance_id'?: (string);
  'agent_id'?: (string);
  'agent_address'?: (string);
  'agent_port'?: (number);
  'address'?: (string);
  'port'?: (number);
  'zone'?: (string);
  'weight'?: (number);
  'tags'?: (string)[];
  'metadata'?: ({[key: string]: string});
  'health'?: (_weft_v1_Health);
  'protocol'?: (string);
}

export interface Endpoint__Output {
  'instance_id': (string);
  'agent_id': (string);
  'agent_address': (string);
  'agent_port': (number);
  'address': (string);
  'port': (number);
  'zone': (string);
  'weight': (number);
  'tags': (string)[];
  'metadata': ({[key: string]: string});
  'health': (_weft_v1_Health__Output);
  'protocol': (string);
}
