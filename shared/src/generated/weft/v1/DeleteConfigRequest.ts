// Original file: proto/weft/v1/registry.proto


export interface DeleteConfigRequest {
  'service'?: (string);
  'kind'?: (string);
  'dry_run'?: (boolean);
}

export interface DeleteConfigRequest__Output {
  'service': (string);
  'kind': (string);
  'dry_run': (boolean);
}
