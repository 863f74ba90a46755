// Original file: proto/weft/v1/registry.proto

import type { ServiceSummary as _weft_v1_ServiceSummary, ServiceSummary__Output as _weft_v1_ServiceSummary__Output } from '../../weft/v1/ServiceSummary.js';

export interface ListServicesResponse {
  'revision'?: (string);
  'services'?: (_weft_v1_ServiceSummary)[];
}

export interface ListServicesResponse__Output {
  'revision': (string);
  'services': (_weft_v1_ServiceSummary__Output)[];
}
