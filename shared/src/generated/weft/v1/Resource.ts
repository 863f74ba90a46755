// Original file: proto/weft/v1/discovery.proto

import type { ServiceEndpoints as _weft_v1_ServiceEndpoints, ServiceEndpoints__Output as _weft_v1_ServiceEndpoints__Output } from '../../weft/v1/ServiceEndpoints.js';

export interface Resource {
  'name'?: (string);
  'version'?: (string);
  'endpoints'?: (_weft_v1_ServiceEndpoints | null);
  'body'?: "endpoints";
}

export interface Resource__Output {
  'name': (string);
  'version': (string);
  'endpoints'?: (_weft_v1_ServiceEndpoints__Output | null);
  'body'?: "endpoints";
}
