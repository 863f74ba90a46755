// Original file: proto/weft/v1/discovery.proto

import type { Endpoint as _weft_v1_Endpoint, Endpoint__Output as _weft_v1_Endpoint__Output } from '../../weft/v1/Endpoint.js';

export interface ServiceEndpoints {
  'service'?: (string);
  'endpoints'?: (_weft_v1_Endpoint)[];
}

export interface ServiceEndpoints__Output {
  'service': (string);
  'endpoints': (_weft_v1_Endpoint__Output)[];
}
