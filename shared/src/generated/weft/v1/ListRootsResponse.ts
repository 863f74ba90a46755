// Original file: proto/weft/v1/trust.proto

import type { CaRoot as _weft_v1_CaRoot, CaRoot__Output as _weft_v1_CaRoot__Output } from '../../weft/v1/CaRoot.js';

export interface ListRootsResponse {
  'trust_domain'?: (string);
  'roots'?: (_weft_v1_CaRoot)[];
}

export interface ListRootsResponse__Output {
  'trust_domain': (string);
  'roots': (_weft_v1_CaRoot__Output)[];
}
