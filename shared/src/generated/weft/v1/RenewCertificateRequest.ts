// Original file: proto/weft/v1/trust.proto


export interface RenewCertificateRequest {
  'csr_pem'?: (string);
}

export interface RenewCertificateRequest__Output {
  'csr_pem': (string);
}
