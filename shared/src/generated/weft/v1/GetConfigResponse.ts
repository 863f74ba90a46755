// Original file: proto/weft/v1/registry.proto

import type { StoredConfig as _weft_v1_StoredConfig, StoredConfig__Output as _weft_v1_StoredConfig__Output } from '../../weft/v1/StoredConfig.js';

export interface GetConfigResponse {
  'revision'?: (string);
  'documents'?: (_weft_v1_StoredConfig)[];
}

export interface GetConfigResponse__Output {
  'revision': (string);
  'documents': (_weft_v1_StoredConfig__Output)[];
}
