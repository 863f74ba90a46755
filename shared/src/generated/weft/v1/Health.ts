// Original file: proto/weft/v1/registry.proto

export const Health = {
  HEALTH_UNKNOWN: 'HEALTH_UNKNOWN',
  HEALTH_PASSING: 'HEALTH_PASSING',
  HEALTH_WARNING: 'HEALTH_WARNING',
  HEALTH_CRITICAL: 'HEALTH_CRITICAL',
} as const;

export type Health =
  | 'HEALTH_UNKNOWN'
  | 0
  | 'HEALTH_PASSING'
  | 1
  | 'HEALTH_WARNING'
  | 2
  | 'HEALTH_CRITICAL'
  | 3

export type Health__Output = typeof Health[keyof typeof Health]
