// Original file: proto/weft/v1/trust.proto


export interface ListTokensRequest {
}

export interface ListTokensRequest__Output {
}
