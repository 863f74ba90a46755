// Original file: proto/weft/v1/telemetry.proto

import type { EdgeStats as _weft_v1_EdgeStats, EdgeStats__Output as _weft_v1_EdgeStats__Output } from '../../weft/v1/EdgeStats.js';

export interface StatsReport {
  'agent_id'?: (string);
  'latency_layout'?: (string);
  'interval_ms'?: (number);
  'edges'?: (_weft_v1_EdgeStats)[];
}

export interface StatsReport__Output {
  'agent_id': (string);
  'latency_layout': (string);
  'interval_ms': (number);
  'edges': (_weft_v1_EdgeStats__Output)[];
}
