// Original file: proto/weft/v1/telemetry.proto

import type { Outcome as _weft_v1_Outcome, Outcome__Output as _weft_v1_Outcome__Output } from '../../weft/v1/Outcome.js';
import type { Long } from '@grpc/proto-loader';

export interface EdgeStats {
  'source'?: (string);
  'destination'?: (string);
  'outcome'?: (_weft_v1_Outcome);
  'requests'?: (number | string | Long);
  'bytes_in'?: (number | string | Long);
  'bytes_out'?: (number | string | Long);
  'latency_buckets'?: (number | string | Long)[];
}

export interface EdgeStats__Output {
  'source': (string);
  'destination': (string);
  'outcome': (_weft_v1_Outcome__Output);
  'requests': (string);
  'bytes_in': (string);
  'bytes_out': (string);
  'latency_buckets': (string)[];
}
