// Original file: proto/weft/v1/telemetry.proto


export interface StatsAck {
}

export interface StatsAck__Output {
}
