// Original file: proto/weft/v1/trust.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CreateTokenRequest as _weft_v1_CreateTokenRequest, CreateTokenRequest__Output as _weft_v1_CreateTokenRequest__Output } from '../../weft/v1/CreateTokenRequest.js';
import type { CreateTokenResponse as _weft_v1_CreateTokenResponse, CreateTokenResponse__Output as _weft_v1_CreateTokenResponse__Output } from '../../weft/v1/CreateTokenResponse.js';
import type { EnrolRequest as _weft_v1_EnrolRequest, EnrolRequest__Output as _weft_v1_EnrolRequest__Output } from '../../weft/v1/EnrolRequest.js';
import type { IssueServiceCertificateRequest as _weft_v1_IssueServiceCertificateRequest, IssueServiceCertificateRequest__Output as _weft_v1_IssueServiceCertificateRequest__Output } from '../../weft/v1/IssueServiceCertificateRequest.js';
import type { IssuedCertificate as _weft_v1_IssuedCertificate, IssuedCertificate__Output as _weft_v1_IssuedCertificate__Output } from '../../weft/v1/IssuedCertificate.js';
import type { ListRootsRequest as _weft_v1_ListRootsRequest, ListRootsRequest__Output as _weft_v1_ListRootsRequest__Output } from '../../weft/v1/ListRootsRequest.js';
import type { ListRootsResponse as _weft_v1_ListRootsResponse, ListRootsResponse__Output as _weft_v1_ListRootsResponse__Output } from '../../weft/v1/ListRootsResponse.js';
import type { ListTokensRequest as _weft_v1_ListTokensRequest, ListTokensRequest__Output as _weft_v1_ListTokensRequest__Output } from '../../weft/v1/ListTokensRequest.js';
import type { ListTokensResponse as _weft_v1_ListTokensResponse, ListTokensResponse__Output as _weft_v1_ListTokensResponse__Output } from '../../weft/v1/ListTokensResponse.js';
import type { RenewCertificateRequest as _weft_v1_RenewCertificateRequest, RenewCertificateRequest__Output as _weft_v1_RenewCertificateRequest__Output } from '../../weft/v1/RenewCertificateRequest.js';
import type { RevokeAgentRequest as _weft_v1_RevokeAgentRequest, RevokeAgentRequest__Output as _weft_v1_RevokeAgentRequest__Output } from '../../weft/v1/RevokeAgentRequest.js';
import type { RevokeAgentResponse as _weft_v1_RevokeAgentResponse, RevokeAgentResponse__Output as _weft_v1_RevokeAgentResponse__Output } from '../../weft/v1/RevokeAgentResponse.js';
import type { RevokeTokenRequest as _weft_v1_RevokeTokenRequest, RevokeTokenRequest__Output as _weft_v1_RevokeTokenRequest__Output } from '../../weft/v1/RevokeTokenRequest.js';
import type { RevokeTokenResponse as _weft_v1_RevokeTokenResponse, RevokeTokenResponse__Output as _weft_v1_RevokeTokenResponse__Output } from '../../weft/v1/RevokeTokenResponse.js';
import type { RotateRootRequest as _weft_v1_RotateRootRequest, RotateRootRequest__Output as _weft_v1_RotateRootRequest__Output } from '../../weft/v1/RotateRootRequest.js';

export interface TrustClient extends grpc.Client {
  CreateToken(argument: _weft_v1_CreateTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  CreateToken(argument: _weft_v1_CreateTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  CreateToken(argument: _weft_v1_CreateTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  CreateToken(argument: _weft_v1_CreateTokenRequest, callback: grpc.requestCallback<_weft_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  createToken(argument: _weft_v1_CreateTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  createToken(argument: _weft_v1_CreateTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  createToken(argument: _weft_v1_CreateTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  createToken(argument: _weft_v1_CreateTokenRequest, callback: grpc.requestCallback<_weft_v1_CreateTokenResponse__Output>): grpc.ClientUnaryCall;
  
  Enrol(argument: _weft_v1_EnrolRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  Enrol(argument: _weft_v1_EnrolRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  Enrol(argument: _weft_v1_EnrolRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  Enrol(argument: _weft_v1_EnrolRequest, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  enrol(argument: _weft_v1_EnrolRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  enrol(argument: _weft_v1_EnrolRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  enrol(argument: _weft_v1_EnrolRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  enrol(argument: _weft_v1_EnrolRequest, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  
  IssueServiceCertificate(argument: _weft_v1_IssueServiceCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  IssueServiceCertificate(argument: _weft_v1_IssueServiceCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  IssueServiceCertificate(argument: _weft_v1_IssueServiceCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  IssueServiceCertificate(argument: _weft_v1_IssueServiceCertificateRequest, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  issueServiceCertificate(argument: _weft_v1_IssueServiceCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  issueServiceCertificate(argument: _weft_v1_IssueServiceCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  issueServiceCertificate(argument: _weft_v1_IssueServiceCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  issueServiceCertificate(argument: _weft_v1_IssueServiceCertificateRequest, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  
  ListRoots(argument: _weft_v1_ListRootsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  ListRoots(argument: _weft_v1_ListRootsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  ListRoots(argument: _weft_v1_ListRootsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  ListRoots(argument: _weft_v1_ListRootsRequest, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  listRoots(argument: _weft_v1_ListRootsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  listRoots(argument: _weft_v1_ListRootsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  listRoots(argument: _weft_v1_ListRootsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  listRoots(argument: _weft_v1_ListRootsRequest, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  
  ListTokens(argument: _weft_v1_ListTokensRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListTokensResponse__Output>): grpc.ClientUnaryCall;
  ListTokens(argument: _weft_v1_ListTokensRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ListTokensResponse__Output>): grpc.ClientUnaryCall;
  ListTokens(argument: _weft_v1_ListTokensRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListTokensResponse__Output>): grpc.ClientUnaryCall;
  ListTokens(argument: _weft_v1_ListTokensRequest, callback: grpc.requestCallback<_weft_v1_ListTokensResponse__Output>): grpc.ClientUnaryCall;
  listTokens(argument: _weft_v1_ListTokensRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListTokensResponse__Output>): grpc.ClientUnaryCall;
  listTokens(argument: _weft_v1_ListTokensRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ListTokensResponse__Output>): grpc.ClientUnaryCall;
  listTokens(argument: _weft_v1_ListTokensRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListTokensResponse__Output>): grpc.ClientUnaryCall;
  listTokens(argument: _weft_v1_ListTokensRequest, callback: grpc.requestCallback<_weft_v1_ListTokensResponse__Output>): grpc.ClientUnaryCall;
  
  RenewCertificate(argument: _weft_v1_RenewCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  RenewCertificate(argument: _weft_v1_RenewCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  RenewCertificate(argument: _weft_v1_RenewCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  RenewCertificate(argument: _weft_v1_RenewCertificateRequest, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  renewCertificate(argument: _weft_v1_RenewCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  renewCertificate(argument: _weft_v1_RenewCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  renewCertificate(argument: _weft_v1_RenewCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  renewCertificate(argument: _weft_v1_RenewCertificateRequest, callback: grpc.requestCallback<_weft_v1_IssuedCertificate__Output>): grpc.ClientUnaryCall;
  
  RevokeAgent(argument: _weft_v1_RevokeAgentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RevokeAgentResponse__Output>): grpc.ClientUnaryCall;
  RevokeAgent(argument: _weft_v1_RevokeAgentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_RevokeAgentResponse__Output>): grpc.ClientUnaryCall;
  RevokeAgent(argument: _weft_v1_RevokeAgentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RevokeAgentResponse__Output>): grpc.ClientUnaryCall;
  RevokeAgent(argument: _weft_v1_RevokeAgentRequest, callback: grpc.requestCallback<_weft_v1_RevokeAgentResponse__Output>): grpc.ClientUnaryCall;
  revokeAgent(argument: _weft_v1_RevokeAgentRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RevokeAgentResponse__Output>): grpc.ClientUnaryCall;
  revokeAgent(argument: _weft_v1_RevokeAgentRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_RevokeAgentResponse__Output>): grpc.ClientUnaryCall;
  revokeAgent(argument: _weft_v1_RevokeAgentRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RevokeAgentResponse__Output>): grpc.ClientUnaryCall;
  revokeAgent(argument: _weft_v1_RevokeAgentRequest, callback: grpc.requestCallback<_weft_v1_RevokeAgentResponse__Output>): grpc.ClientUnaryCall;
  
  RevokeToken(argument: _weft_v1_RevokeTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RevokeTokenResponse__Output>): grpc.ClientUnaryCall;
  RevokeToken(argument: _weft_v1_RevokeTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_RevokeTokenResponse__Output>): grpc.ClientUnaryCall;
  RevokeToken(argument: _weft_v1_RevokeTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RevokeTokenResponse__Output>): grpc.ClientUnaryCall;
  RevokeToken(argument: _weft_v1_RevokeTokenRequest, callback: grpc.requestCallback<_weft_v1_RevokeTokenResponse__Output>): grpc.ClientUnaryCall;
  revokeToken(argument: _weft_v1_RevokeTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RevokeTokenResponse__Output>): grpc.ClientUnaryCall;
  revokeToken(argument: _weft_v1_RevokeTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_RevokeTokenResponse__Output>): grpc.ClientUnaryCall;
  revokeToken(argument: _weft_v1_RevokeTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RevokeTokenResponse__Output>): grpc.ClientUnaryCall;
  revokeToken(argument: _weft_v1_RevokeTokenRequest, callback: grpc.requestCallback<_weft_v1_RevokeTokenResponse__Output>): grpc.ClientUnaryCall;
  
  RotateRoot(argument: _weft_v1_RotateRootRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  RotateRoot(argument: _weft_v1_RotateRootRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  RotateRoot(argument: _weft_v1_RotateRootRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  RotateRoot(argument: _weft_v1_RotateRootRequest, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  rotateRoot(argument: _weft_v1_RotateRootRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  rotateRoot(argument: _weft_v1_RotateRootRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  rotateRoot(argument: _weft_v1_RotateRootRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  rotateRoot(argument: _weft_v1_RotateRootRequest, callback: grpc.requestCallback<_weft_v1_ListRootsResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface TrustHandlers extends grpc.UntypedServiceImplementation {
  CreateToken: grpc.handleUnaryCall<_weft_v1_CreateTokenRequest__Output, _weft_v1_CreateTokenResponse>;
  
  Enrol: grpc.handleUnaryCall<_weft_v1_EnrolRequest__Output, _weft_v1_IssuedCertificate>;
  
  IssueServiceCertificate: grpc.handleUnaryCall<_weft_v1_IssueServiceCertificateRequest__Output, _weft_v1_IssuedCertificate>;
  
  ListRoots: grpc.handleUnaryCall<_weft_v1_ListRootsRequest__Output, _weft_v1_ListRootsResponse>;
  
  ListTokens: grpc.handleUnaryCall<_weft_v1_ListTokensRequest__Output, _weft_v1_ListTokensResponse>;
  
  RenewCertificate: grpc.handleUnaryCall<_weft_v1_RenewCertificateRequest__Output, _weft_v1_IssuedCertificate>;
  
  RevokeAgent: grpc.handleUnaryCall<_weft_v1_RevokeAgentRequest__Output, _weft_v1_RevokeAgentResponse>;
  
  RevokeToken: grpc.handleUnaryCall<_weft_v1_RevokeTokenRequest__Output, _weft_v1_RevokeTokenResponse>;
  
  RotateRoot: grpc.handleUnaryCall<_weft_v1_RotateRootRequest__Output, _weft_v1_ListRootsResponse>;
  
}

export interface TrustDefinition extends grpc.ServiceDefinition {
  CreateToken: MethodDefinition<_weft_v1_CreateTokenRequest, _weft_v1_CreateTokenResponse, _weft_v1_CreateTokenRequest__Output, _weft_v1_CreateTokenResponse__Output>
  Enrol: MethodDefinition<_weft_v1_EnrolRequest, _weft_v1_IssuedCertificate, _weft_v1_EnrolRequest__Output, _weft_v1_IssuedCertificate__Output>
  IssueServiceCertificate: MethodDefinition<_weft_v1_IssueServiceCertificateRequest, _weft_v1_IssuedCertificate, _weft_v1_IssueServiceCertificateRequest__Output, _weft_v1_IssuedCertificate__Output>
  ListRoots: MethodDefinition<_weft_v1_ListRootsRequest, _weft_v1_ListRootsResponse, _weft_v1_ListRootsRequest__Output, _weft_v1_ListRootsResponse__Output>
  ListTokens: MethodDefinition<_weft_v1_ListTokensRequest, _weft_v1_ListTokensResponse, _weft_v1_ListTokensRequest__Output, _weft_v1_ListTokensResponse__Output>
  RenewCertificate: MethodDefinition<_weft_v1_RenewCertificateRequest, _weft_v1_IssuedCertificate, _weft_v1_RenewCertificateRequest__Output, _weft_v1_IssuedCertificate__Output>
  RevokeAgent: MethodDefinition<_weft_v1_RevokeAgentRequest, _weft_v1_RevokeAgentResponse, _weft_v1_RevokeAgentRequest__Output, _weft_v1_RevokeAgentResponse__Output>
  RevokeToken: MethodDefinition<_weft_v1_RevokeTokenRequest, _weft_v1_RevokeTokenResponse, _weft_v1_RevokeTokenRequest__Output, _weft_v1_RevokeTokenResponse__Output>
  RotateRoot: MethodDefinition<_weft_v1_RotateRootRequest, _weft_v1_ListRootsResponse, _weft_v1_RotateRootRequest__Output, _weft_v1_ListRootsResponse__Output>
}
