// Original file: proto/weft/v1/trust.proto


export interface RevokeTokenRequest {
  'token_id'?: (string);
}

export interface RevokeTokenRequest__Output {
  'token_id': (string);
}
