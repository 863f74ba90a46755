// Original file: proto/weft/v1/trust.proto


export interface RevokeAgentResponse {
  'serials'?: (string)[];
  'instances_removed'?: (number);
  'stream_closed'?: (boolean);
}

export interface RevokeAgentResponse__Output {
  'serials': (string)[];
  'instances_removed': (number);
  'stream_closed': (boolean);
}
