// Original file: proto/weft/v1/discovery.proto


export interface MeshSettings {
  'default_access'?: (string);
}

export interface MeshSettings__Output {
  'default_access': (string);
}
