// Original file: proto/weft/v1/registry.proto


export interface ConfigChange {
  'service'?: (string);
  'kind'?: (string);
  'action'?: (string);
  'before_json'?: (string);
  'after_json'?: (string);
}

export interface ConfigChange__Output {
  'service': (string);
  'kind': (string);
  'action': (string);
  'before_json': (string);
  'after_json': (string);
}
