// Original file: proto/weft/v1/trust.proto


export interface EnrolRequest {
  'join_token'?: (string);
  'agent_id'?: (string);
  'csr_pem'?: (string);
}

export interface EnrolRequest__Output {
  'join_token': (string);
  'agent_id': (string);
  'csr_pem': (string);
}
