// Original file: proto/weft/v1/trust.proto

import type { TokenInfo as _weft_v1_TokenInfo, TokenInfo__Output as _weft_v1_TokenInfo__Output } from '../../weft/v1/TokenInfo.js';

export interface ListTokensResponse {
  'tokens'?: (_weft_v1_TokenInfo)[];
}

export interface ListTokensResponse__Output {
  'tokens': (_weft_v1_TokenInfo__Output)[];
}
