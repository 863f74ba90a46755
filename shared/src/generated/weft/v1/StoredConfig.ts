// Original file: proto/weft/v1/registry.proto


export interface StoredConfig {
  'service'?: (string);
  'kind'?: (string);
  'json'?: (string);
  'revision'?: (string);
}

export interface StoredConfig__Output {
  'service': (string);
  'kind': (string);
  'json': (string);
  'revision': (string);
}
