// Original file: proto/weft/v1/registry.proto


export interface RollbackConfigRequest {
  'revision'?: (string);
  'dry_run'?: (boolean);
}

export interface RollbackConfigRequest__Output {
  'revision': (string);
  'dry_run': (boolean);
}
