// Original file: proto/weft/v1/trust.proto

export const TokenKind = {
  TOKEN_KIND_UNSPECIFIED: 'TOKEN_KIND_UNSPECIFIED',
  TOKEN_KIND_JOIN: 'TOKEN_KIND_JOIN',
  TOKEN_KIND_OPERATOR: 'TOKEN_KIND_OPERATOR',
  TOKEN_KIND_READ: 'TOKEN_KIND_READ',
} as const;

export type TokenKind =
  | 'TOKEN_KIND_UNSPECIFIED'
  | 0
  | 'TOKEN_KIND_JOIN'
  | 1
  | 'TOKEN_KIND_OPERATOR'
  | 2
  | 'TOKEN_KIND_READ'
  | 3

export type TokenKind__Output = typeof TokenKind[keyof typeof TokenKind]
