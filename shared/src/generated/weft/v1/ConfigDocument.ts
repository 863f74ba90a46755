// Original file: proto/weft/v1/registry.proto


export interface ConfigDocument {
  'source'?: (string);
  'json'?: (string);
}

export interface ConfigDocument__Output {
  'source': (string);
  'json': (string);
}
