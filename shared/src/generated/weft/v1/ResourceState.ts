// Original file: proto/weft/v1/registry.proto


export interface ResourceState {
  'name'?: (string);
  'sent_version'?: (string);
  'acked_version'?: (string);
  'rejected_version'?: (string);
  'error'?: (string);
}

export interface ResourceState__Output {
  'name': (string);
  'sent_version': (string);
  'acked_version': (string);
  'rejected_version': (string);
  'error': (string);
}
