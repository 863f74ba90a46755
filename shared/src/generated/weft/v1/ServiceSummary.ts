// Original file: proto/weft/v1/registry.proto

import type { Instance as _weft_v1_Instance, Instance__Output as _weft_v1_Instance__Output } from '../../weft/v1/Instance.js';

export interface ServiceSummary {
  'name'?: (string);
  'version'?: (string);
  'instances'?: (_weft_v1_Instance)[];
}

export interface ServiceSummary__Output {
  'name': (string);
  'version': (string);
  'instances': (_weft_v1_Instance__Output)[];
}
