// Original file: proto/weft/v1/registry.proto

import type { ConfigChange as _weft_v1_ConfigChange, ConfigChange__Output as _weft_v1_ConfigChange__Output } from '../../weft/v1/ConfigChange.js';

export interface ApplyConfigResponse {
  'revision'?: (string);
  'changes'?: (_weft_v1_ConfigChange)[];
  'warnings'?: (string)[];
  'dry_run'?: (boolean);
}

export interface ApplyConfigResponse__Output {
  'revision': (string);
  'changes': (_weft_v1_ConfigChange__Output)[];
  'warnings': (string)[];
  'dry_run': (boolean);
}
