// Original file: proto/weft/v1/registry.proto

import type { ConfigChange as _weft_v1_ConfigChange, ConfigChange__Output as _weft_v1_ConfigChange__Output } from '../../weft/v1/ConfigChange.js';

export interface ConfigRevision {
  'revision'?: (string);
  'applied_at'?: (string);
  'description'?: (string);
  'changes'?: (_weft_v1_ConfigChange)[];
}

export interface ConfigRevision__Output {
  'revision': (string);
  'applied_at': (string);
  'description': (string);
  'changes': (_weft_v1_ConfigChange__Output)[];
}
