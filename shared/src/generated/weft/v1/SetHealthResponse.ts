// Original file: proto/weft/v1/registry.proto


export interface SetHealthResponse {
  'revision'?: (string);
}

export interface SetHealthResponse__Output {
  'revision': (string);
}
