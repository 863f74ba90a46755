// Original file: proto/weft/v1/discovery.proto

import type { ServiceEndpoints as _weft_v1_ServiceEndpoints, ServiceEndpoints__Output as _weft_v1_ServiceEndpoints__Output } from '../../weft/v1/ServiceEndpoints.js';
import type { ServicePolicy as _weft_v1_ServicePolicy, ServicePolicy__Output as _weft_v1_ServicePolicy__Output } from '../../weft/v1/ServicePolicy.js';
import type { ExternalService as _weft_v1_ExternalService, ExternalService__Output as _weft_v1_ExternalService__Output } from '../../weft/v1/ExternalService.js';

export interface Resource {
  'name'?: (string);
  'version'?: (string);
  'endpoints'?: (_weft_v1_ServiceEndpoints | null);
  'policy'?: (_weft_v1_ServicePolicy | null);
  'external'?: (_weft_v1_ExternalService | null);
  'body'?: "endpoints"|"policy"|"external";
}

export interface Resource__Output {
  'name': (string);
  'version': (string);
  'endpoints'?: (_weft_v1_ServiceEndpoints__Output | null);
  'policy'?: (_weft_v1_ServicePolicy__Output | null);
  'external'?: (_weft_v1_ExternalService__Output | null);
  'body'?: "endpoints"|"policy"|"external";
}
