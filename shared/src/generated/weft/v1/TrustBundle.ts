// Original file: proto/weft/v1/trust.proto


export interface TrustBundle {
  'ca_bundle_pem'?: (string);
}

export interface TrustBundle__Output {
  'ca_bundle_pem': (string);
}
