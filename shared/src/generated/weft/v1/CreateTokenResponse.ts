// Original file: proto/weft/v1/trust.proto

import type { Long } from '@grpc/proto-loader';

export interface CreateTokenResponse {
  'token'?: (string);
  'token_id'?: (string);
  'expires_at_ms'?: (number | string | Long);
}

export interface CreateTokenResponse__Output {
  'token': (string);
  'token_id': (string);
  'expires_at_ms': (string);
}
