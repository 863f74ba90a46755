// Original file: proto/weft/v1/trust.proto

import type { Long } from '@grpc/proto-loader';

export interface CaRoot {
  'fingerprint'?: (string);
  'subject'?: (string);
  'not_after_ms'?: (number | string | Long);
  'active'?: (boolean);
  'certificate_pem'?: (string);
}

export interface CaRoot__Output {
  'fingerprint': (string);
  'subject': (string);
  'not_after_ms': (string);
  'active': (boolean);
  'certificate_pem': (string);
}
