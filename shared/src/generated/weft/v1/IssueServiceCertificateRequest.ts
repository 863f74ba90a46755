// Original file: proto/weft/v1/trust.proto


export interface IssueServiceCertificateRequest {
  'service'?: (string);
  'csr_pem'?: (string);
}

export interface IssueServiceCertificateRequest__Output {
  'service': (string);
  'csr_pem': (string);
}
