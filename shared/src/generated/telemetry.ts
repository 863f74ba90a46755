import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { EdgeStats as _weft_v1_EdgeStats, EdgeStats__Output as _weft_v1_EdgeStats__Output } from './weft/v1/EdgeStats.js';
import type { StatsAck as _weft_v1_StatsAck, StatsAck__Output as _weft_v1_StatsAck__Output } from './weft/v1/StatsAck.js';
import type { StatsReport as _weft_v1_StatsReport, StatsReport__Output as _weft_v1_StatsReport__Output } from './weft/v1/StatsReport.js';
import type { TelemetryClient as _weft_v1_TelemetryClient, TelemetryDefinition as _weft_v1_TelemetryDefinition } from './weft/v1/Telemetry.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  weft: {
    v1: {
      EdgeStats: MessageTypeDefinition<_weft_v1_EdgeStats, _weft_v1_EdgeStats__Output>
      Outcome: EnumTypeDefinition
      StatsAck: MessageTypeDefinition<_weft_v1_StatsAck, _weft_v1_StatsAck__Output>
      StatsReport: MessageTypeDefinition<_weft_v1_StatsReport, _weft_v1_StatsReport__Output>
      Telemetry: SubtypeConstructor<typeof grpc.Client, _weft_v1_TelemetryClient> & { service: _weft_v1_TelemetryDefinition }
    }
  }
}

