// Original file: proto/weft/v1/trust.proto


export interface RevocationList {
  'agent_ids'?: (string)[];
  'serials'?: (string)[];
}

export interface RevocationList__Output {
  'agent_ids': (string)[];
  'serials': (string)[];
}
