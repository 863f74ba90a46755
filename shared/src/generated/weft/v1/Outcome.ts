// Original file: proto/weft/v1/telemetry.proto

export const Outcome = {
  OUTCOME_UNSPECIFIED: 'OUTCOME_UNSPECIFIED',
  OUTCOME_SUCCESS: 'OUTCOME_SUCCESS',
  OUTCOME_APP_ERROR: 'OUTCOME_APP_ERROR',
  OUTCOME_MESH_ERROR: 'OUTCOME_MESH_ERROR',
  OUTCOME_CANCELLED: 'OUTCOME_CANCELLED',
} as const;

export type Outcome =
  | 'OUTCOME_UNSPECIFIED'
  | 0
  | 'OUTCOME_SUCCESS'
  | 1
  | 'OUTCOME_APP_ERROR'
  | 2
  | 'OUTCOME_MESH_ERROR'
  | 3
  | 'OUTCOME_CANCELLED'
  | 4

export type Outcome__Output = typeof Outcome[keyof typeof Outcome]
