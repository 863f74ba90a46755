// Original file: proto/weft/v1/registry.proto


export interface GetConfigRequest {
  'service'?: (string);
  'kind'?: (string);
}

export interface GetConfigRequest__Output {
  'service': (string);
  'kind': (string);
}
