// Original file: proto/weft/v1/trust.proto


export interface ListRootsRequest {
}

export interface ListRootsRequest__Output {
}
