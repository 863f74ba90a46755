// Original file: proto/weft/v1/trust.proto


// Original file: proto/weft/v1/trust.proto

export const _weft_v1_RotateRootRequest_Step = {
  STEP_UNSPECIFIED: 'STEP_UNSPECIFIED',
  STEP_ADD: 'STEP_ADD',
  STEP_ACTIVATE: 'STEP_ACTIVATE',
  STEP_REMOVE: 'STEP_REMOVE',
} as const;

export type _weft_v1_RotateRootRequest_Step =
  | 'STEP_UNSPECIFIED'
  | 0
  | 'STEP_ADD'
  | 1
  | 'STEP_ACTIVATE'
  | 2
  | 'STEP_REMOVE'
  | 3

export type _weft_v1_RotateRootRequest_Step__Output = typeof _weft_v1_RotateRootRequest_Step[keyof typeof _weft_v1_RotateRootRequest_Step]

export interface RotateRootRequest {
  'step'?: (_weft_v1_RotateRootRequest_Step);
  'fingerprint'?: (string);
}

export interface RotateRootRequest__Output {
  'step': (_weft_v1_RotateRootRequest_Step__Output);
  'fingerprint': (string);
}
