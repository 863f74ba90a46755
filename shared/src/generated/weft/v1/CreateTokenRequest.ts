// Original file: proto/weft/v1/trust.proto

import type { TokenKind as _weft_v1_TokenKind, TokenKind__Output as _weft_v1_TokenKind__Output } from '../../weft/v1/TokenKind.js';
import type { Long } from '@grpc/proto-loader';

export interface CreateTokenRequest {
  'kind'?: (_weft_v1_TokenKind);
  'ttl_ms'?: (number | string | Long);
  'uses'?: (number);
  'agent_id'?: (string);
  'description'?: (string);
}

export interface CreateTokenRequest__Output {
  'kind': (_weft_v1_TokenKind__Output);
  'ttl_ms': (string);
  'uses': (number);
  'agent_id': (string);
  'description': (string);
}
