// Original file: proto/weft/v1/registry.proto


export interface ListServicesRequest {
}

export interface ListServicesRequest__Output {
}
