// Original file: proto/weft/v1/registry.proto


export interface ListAgentsRequest {
}

export interface ListAgentsRequest__Output {
}
