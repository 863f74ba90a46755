// Original file: proto/weft/v1/discovery.proto


export interface ResourceError {
  'name'?: (string);
  'version'?: (string);
  'message'?: (string);
}

export interface ResourceError__Output {
  'name': (string);
  'version': (string);
  'message': (string);
}
