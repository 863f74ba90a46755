// Original file: proto/weft/v1/registry.proto


export interface ConfigHistoryRequest {
  'service'?: (string);
  'limit'?: (number);
}

export interface ConfigHistoryRequest__Output {
  'service': (string);
  'limit': (number);
}
