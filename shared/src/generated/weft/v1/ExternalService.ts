// Original file: proto/weft/v1/discovery.proto


export interface ExternalService {
  'host'?: (string);
  'json'?: (string);
}

export interface ExternalService__Output {
  'host': (string);
  'json': (string);
}
