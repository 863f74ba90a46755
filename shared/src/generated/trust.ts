import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { CaRoot as _weft_v1_CaRoot, CaRoot__Output as _weft_v1_CaRoot__Output } from './weft/v1/CaRoot.js';
import type { CreateTokenRequest as _weft_v1_CreateTokenRequest, CreateTokenRequest__Output as _weft_v1_CreateTokenRequest__Output } from './weft/v1/CreateTokenRequest.js';
import type { CreateTokenResponse as _weft_v1_CreateTokenResponse, CreateTokenResponse__Output as _weft_v1_CreateTokenResponse__Output } from './weft/v1/CreateTokenResponse.js';
import type { EnrolRequest as _weft_v1_EnrolRequest, EnrolRequest__Output as _weft_v1_EnrolRequest__Output } from './weft/v1/EnrolRequest.js';
import type { IssueServiceCertificateRequest as _weft_v1_IssueServiceCertificateRequest, IssueServiceCertificateRequest__Output as _weft_v1_IssueServiceCertificateRequest__Output } from './weft/v1/IssueServiceCertificateRequest.js';
import type { IssuedCertificate as _weft_v1_IssuedCertificate, IssuedCertificate__Output as _weft_v1_IssuedCertificate__Output } from './weft/v1/IssuedCertificate.js';
import type { ListRootsRequest as _weft_v1_ListRootsRequest, ListRootsRequest__Output as _weft_v1_ListRootsRequest__Output } from './weft/v1/ListRootsRequest.js';
import type { ListRootsResponse as _weft_v1_ListRootsResponse, ListRootsResponse__Output as _weft_v1_ListRootsResponse__Output } from './weft/v1/ListRootsResponse.js';
import type { ListTokensRequest as _weft_v1_ListTokensRequest, ListTokensRequest__Output as _weft_v1_ListTokensRequest__Output } from './weft/v1/ListTokensRequest.js';
import type { ListTokensResponse as _weft_v1_ListTokensResponse, ListTokensResponse__Output as _weft_v1_ListTokensResponse__Output } from './weft/v1/ListTokensResponse.js';
import type { RenewCertificateRequest as _weft_v1_RenewCertificateRequest, RenewCertificateRequest__Output as _weft_v1_RenewCertificateRequest__Output } from './weft/v1/RenewCertificateRequest.js';
import type { RevocationList as _weft_v1_RevocationList, RevocationList__Output as _weft_v1_RevocationList__Output } from './weft/v1/RevocationList.js';
import type { RevokeAgentRequest as _weft_v1_RevokeAgentRequest, RevokeAgentRequest__Output as _weft_v1_RevokeAgentRequest__Output } from './weft/v1/RevokeAgentRequest.js';
import type { RevokeAgentResponse as _weft_v1_RevokeAgentResponse, RevokeAgentResponse__Output as _weft_v1_RevokeAgentResponse__Output } from './weft/v1/RevokeAgentResponse.js';
import type { RevokeTokenRequest as _weft_v1_RevokeTokenRequest, RevokeTokenRequest__Output as _weft_v1_RevokeTokenRequest__Output } from './weft/v1/RevokeTokenRequest.js';
import type { RevokeTokenResponse as _weft_v1_RevokeTokenResponse, RevokeTokenResponse__Output as _weft_v1_RevokeTokenResponse__Output } from './weft/v1/RevokeTokenResponse.js';
import type { RotateRootRequest as _weft_v1_RotateRootRequest, RotateRootRequest__Output as _weft_v1_RotateRootRequest__Output } from './weft/v1/RotateRootRequest.js';
import type { TokenInfo as _weft_v1_TokenInfo, TokenInfo__Output as _weft_v1_TokenInfo__Output } from './weft/v1/TokenInfo.js';
import type { TrustClient as _weft_v1_TrustClient, TrustDefinition as _weft_v1_TrustDefinition } from './weft/v1/Trust.js';
import type { TrustBundle as _weft_v1_TrustBundle, TrustBundle__Output as _weft_v1_TrustBundle__Output } from './weft/v1/TrustBundle.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  weft: {
    v1: {
      CaRoot: MessageTypeDefinition<_weft_v1_CaRoot, _weft_v1_CaRoot__Output>
      CreateTokenRequest: MessageTypeDefinition<_weft_v1_CreateTokenRequest, _weft_v1_CreateTokenRequest__Output>
      CreateTokenResponse: MessageTypeDefinition<_weft_v1_CreateTokenResponse, _weft_v1_CreateTokenResponse__Output>
      EnrolRequest: MessageTypeDefinition<_weft_v1_EnrolRequest, _weft_v1_EnrolRequest__Output>
      IssueServiceCertificateRequest: MessageTypeDefinition<_weft_v1_IssueServiceCertificateRequest, _weft_v1_IssueServiceCertificateRequest__Output>
      IssuedCertificate: MessageTypeDefinition<_weft_v1_IssuedCertificate, _weft_v1_IssuedCertificate__Output>
      ListRootsRequest: MessageTypeDefinition<_weft_v1_ListRootsRequest, _weft_v1_ListRootsRequest__Output>
      ListRootsResponse: MessageTypeDefinition<_weft_v1_ListRootsResponse, _weft_v1_ListRootsResponse__Output>
      ListTokensRequest: MessageTypeDefinition<_weft_v1_ListTokensRequest, _weft_v1_ListTokensRequest__Output>
      ListTokensResponse: MessageTypeDefinition<_weft_v1_ListTokensResponse, _weft_v1_ListTokensResponse__Output>
      RenewCertificateRequest: MessageTypeDefinition<_weft_v1_RenewCertificateRequest, _weft_v1_RenewCertificateRequest__Output>
      RevocationList: MessageTypeDefinition<_weft_v1_RevocationList, _weft_v1_RevocationList__Output>
      RevokeAgentRequest: MessageTypeDefinition<_weft_v1_RevokeAgentRequest, _weft_v1_RevokeAgentRequest__Output>
      RevokeAgentResponse: MessageTypeDefinition<_weft_v1_RevokeAgentResponse, _weft_v1_RevokeAgentResponse__Output>
      RevokeTokenRequest: MessageTypeDefinition<_weft_v1_RevokeTokenRequest, _weft_v1_RevokeTokenRequest__Output>
      RevokeTokenResponse: MessageTypeDefinition<_weft_v1_RevokeTokenResponse, _weft_v1_RevokeTokenResponse__Output>
      RotateRootRequest: MessageTypeDefinition<_weft_v1_RotateRootRequest, _weft_v1_RotateRootRequest__Output>
      TokenInfo: MessageTypeDefinition<_weft_v1_TokenInfo, _weft_v1_TokenInfo__Output>
      TokenKind: EnumTypeDefinition
      Trust: SubtypeConstructor<typeof grpc.Client, _weft_v1_TrustClient> & { service: _weft_v1_TrustDefinition }
      TrustBundle: MessageTypeDefinition<_weft_v1_TrustBundle, _weft_v1_TrustBundle__Output>
    }
  }
}

