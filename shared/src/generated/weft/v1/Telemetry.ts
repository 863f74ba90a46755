// Original file: proto/weft/v1/telemetry.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { StatsAck as _weft_v1_StatsAck, StatsAck__Output as _weft_v1_StatsAck__Output } from '../../weft/v1/StatsAck.js';
import type { StatsReport as _weft_v1_StatsReport, StatsReport__Output as _weft_v1_StatsReport__Output } from '../../weft/v1/StatsReport.js';

export interface TelemetryClient extends grpc.Client {
  Report(argument: _weft_v1_StatsReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_StatsAck__Output>): grpc.ClientUnaryCall;
  Report(argument: _weft_v1_StatsReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_StatsAck__Output>): grpc.ClientUnaryCall;
  Report(argument: _weft_v1_StatsReport, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_StatsAck__Output>): grpc.ClientUnaryCall;
  Report(argument: _weft_v1_StatsReport, callback: grpc.requestCallback<_weft_v1_StatsAck__Output>): grpc.ClientUnaryCall;
  report(argument: _weft_v1_StatsReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_StatsAck__Output>): grpc.ClientUnaryCall;
  report(argument: _weft_v1_StatsReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_StatsAck__Output>): grpc.ClientUnaryCall;
  report(argument: _weft_v1_StatsReport, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_StatsAck__Output>): grpc.ClientUnaryCall;
  report(argument: _weft_v1_StatsReport, callback: grpc.requestCallback<_weft_v1_StatsAck__Output>): grpc.ClientUnaryCall;
  
}

export interface TelemetryHandlers extends grpc.UntypedServiceImplementation {
  Report: grpc.handleUnaryCall<_weft_v1_StatsReport__Output, _weft_v1_StatsAck>;
  
}

export interface TelemetryDefinition extends grpc.ServiceDefinition {
  Report: MethodDefinition<_weft_v1_StatsReport, _weft_v1_StatsAck, _weft_v1_StatsReport__Output, _weft_v1_StatsAck__Output>
}
