// Original file: proto/weft/v1/registry.proto


export interface RegisterResponse {
  'revision'?: (string);
  'instance_ids'?: (string)[];
}

export interface RegisterResponse__Output {
  'revision': (string);
  'instance_ids': (string)[];
}
