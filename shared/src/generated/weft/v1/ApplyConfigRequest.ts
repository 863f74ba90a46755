// Original file: proto/weft/v1/registry.proto

import type { ConfigDocument as _weft_v1_ConfigDocument, ConfigDocument__Output as _weft_v1_ConfigDocument__Output } from '../../weft/v1/ConfigDocument.js';

export interface ApplyConfigRequest {
  'documents'?: (_weft_v1_ConfigDocument)[];
  'dry_run'?: (boolean);
}

export interface ApplyConfigRequest__Output {
  'documents': (_weft_v1_ConfigDocument__Output)[];
  'dry_run': (boolean);
}
