// Original file: proto/weft/v1/discovery.proto


export interface ServicePolicy {
  'service'?: (string);
  'json'?: (string);
}

export interface ServicePolicy__Output {
  'service': (string);
  'json': (string);
}
