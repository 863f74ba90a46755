// Original file: proto/weft/v1/discovery.proto

import type { ServiceEndpoints as _weft_v1_ServiceEndpoints, ServiceEndpoints__Output as _weft_v1_ServiceEndpoints__Output } from '../../weft/v1/ServiceEndpoints.js';
import type { ServicePolicy as _weft_v1_ServicePolicy, ServicePolicy__Output as _weft_v1_ServicePolicy__Output } from '../../weft/v1/ServicePolicy.js';
import type { RevocationList as _weft_v1_RevocationList, RevocationList__Output as _weft_v1_RevocationList__Output } from '../../weft/v1/RevocationList.js';
import type { TrustBundle as _weft_v1_TrustBundle, TrustBundle__Output as _weft_v1_TrustBundle__Output } from '../../weft/v1/TrustBundle.js';
import type { MeshSettings as _weft_v1_MeshSettings, MeshSettings__Output as _weft_v1_MeshSettings__Output } from '../../weft/v1/MeshSettings.js';
import type { ExternalService as _weft_v1_ExternalService, ExternalService__Output as _weft_v1_ExternalService__Output } from '../../weft/v1/ExternalService.js';

export interface Resource {
  'name'?: (string);
  'version'?: (string);
  'endpoints'?: (_weft_v1_ServiceEndpoints | null);
  'policy'?: (_weft_v1_ServicePolicy | null);
  'revocations'?: (_weft_v1_RevocationList | null);
  'bundle'?: (_weft_v1_TrustBundle | null);
  'mesh'?: (_weft_v1_MeshSettings | null);
  'external'?: (_weft_v1_ExternalService | null);
  'body'?: "endpoints"|"policy"|"revocations"|"bundle"|"mesh"|"external";
}

export interface Resource__Output {
  'name': (string);
  'version': (string);
  'endpoints'?: (_weft_v1_ServiceEndpoints__Output | null);
  'policy'?: (_weft_v1_ServicePolicy__Output | null);
  'revocations'?: (_weft_v1_RevocationList__Output | null);
  'bundle'?: (_weft_v1_TrustBundle__Output | null);
  'mesh'?: (_weft_v1_MeshSettings__Output | null);
  'external'?: (_weft_v1_ExternalService__Output | null);
  'body'?: "endpoints"|"policy"|"revocations"|"bundle"|"mesh"|"external";
}
