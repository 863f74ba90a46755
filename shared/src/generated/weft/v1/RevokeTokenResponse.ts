// Original file: proto/weft/v1/trust.proto

import type { TokenInfo as _weft_v1_TokenInfo, TokenInfo__Output as _weft_v1_TokenInfo__Output } from '../../weft/v1/TokenInfo.js';

export interface RevokeTokenResponse {
  'token'?: (_weft_v1_TokenInfo | null);
}

export interface RevokeTokenResponse__Output {
  'token': (_weft_v1_TokenInfo__Output | null);
}
