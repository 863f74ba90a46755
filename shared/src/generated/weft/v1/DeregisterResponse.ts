// Original file: proto/weft/v1/registry.proto


export interface DeregisterResponse {
  'revision'?: (string);
  'removed'?: (number);
}

export interface DeregisterResponse__Output {
  'revision': (string);
  'removed': (number);
}
