// Original file: proto/weft/v1/registry.proto

import type { Health as _weft_v1_Health, Health__Output as _weft_v1_Health__Output } from '../../weft/v1/Health.js';

export interface Instance {
  'service'?: (string);
  'instance_id'?: (string);
  'address'?: (string);
  'port'?: (number);
  'zone'?: (string);
  'weight'?: (number);
  'tags'?: (string)[];
  'metadata'?: ({[key: string]: string});
  'health'?: (_weft_v1_Health);
  'agent_id'?: (string);
  'protocol'?: (string);
}

export interface Instance__Output {
  'service': (string);
  'instance_id': (string);
  'address': (string);
  'port': (number);
  'zone': (string);
  'weight': (number);
  'tags': (string)[];
  'metadata': ({[key: string]: string});
  'health': (_weft_v1_Health__Output);
  'agent_id': (string);
  'protocol': (string);
}
