// Original file: proto/weft/v1/trust.proto

import type { Long } from '@grpc/proto-loader';

export interface IssuedCertificate {
  'spiffe_id'?: (string);
  'agent_id'?: (string);
  'certificate_pem'?: (string);
  'ca_bundle_pem'?: (string);
  'serial'?: (string);
  'expires_at_ms'?: (number | string | Long);
  'trust_domain'?: (string);
  'service'?: (string);
}

export interface IssuedCertificate__Output {
  'spiffe_id': (string);
  'agent_id': (string);
  'certificate_pem': (string);
  'ca_bundle_pem': (string);
  'serial': (string);
  'expires_at_ms': (string);
  'trust_domain': (string);
  'service': (string);
}
