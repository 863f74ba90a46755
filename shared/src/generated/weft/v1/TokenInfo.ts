// Original file: proto/weft/v1/trust.proto

import type { TokenKind as _weft_v1_TokenKind, TokenKind__Output as _weft_v1_TokenKind__Output } from '../../weft/v1/TokenKind.js';
import type { Long } from '@grpc/proto-loader';

export interface TokenInfo {
  'token_id'?: (string);
  'kind'?: (_weft_v1_TokenKind);
  'created_at_ms'?: (number | string | Long);
  'expires_at_ms'?: (number | string | Long);
  'uses_left'?: (number);
  'agent_id'?: (string);
  'description'?: (string);
}

export interface TokenInfo__Output {
  'token_id': (string);
  'kind': (_weft_v1_TokenKind__Output);
  'created_at_ms': (string);
  'expires_at_ms': (string);
  'uses_left': (number);
  'agent_id': (string);
  'description': (string);
}
