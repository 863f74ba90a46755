// Original file: proto/weft/v1/registry.proto

import type { ConfigRevision as _weft_v1_ConfigRevision, ConfigRevision__Output as _weft_v1_ConfigRevision__Output } from '../../weft/v1/ConfigRevision.js';

export interface ConfigHistoryResponse {
  'revision'?: (string);
  'revisions'?: (_weft_v1_ConfigRevision)[];
}

export interface ConfigHistoryResponse__Output {
  'revision': (string);
  'revisions': (_weft_v1_ConfigRevision__Output)[];
}
