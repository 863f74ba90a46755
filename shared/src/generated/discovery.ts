import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AgentInfo as _weft_v1_AgentInfo, AgentInfo__Output as _weft_v1_AgentInfo__Output } from './weft/v1/AgentInfo.js';
import type { AgentStatus as _weft_v1_AgentStatus, AgentStatus__Output as _weft_v1_AgentStatus__Output } from './weft/v1/AgentStatus.js';
import type { ApplyConfigRequest as _weft_v1_ApplyConfigRequest, ApplyConfigRequest__Output as _weft_v1_ApplyConfigRequest__Output } from './weft/v1/ApplyConfigRequest.js';
import type { ApplyConfigResponse as _weft_v1_ApplyConfigResponse, ApplyConfigResponse__Output as _weft_v1_ApplyConfigResponse__Output } from './weft/v1/ApplyConfigResponse.js';
import type { CaRoot as _weft_v1_CaRoot, CaRoot__Output as _weft_v1_CaRoot__Output } from './weft/v1/CaRoot.js';
import type { ConfigChange as _weft_v1_ConfigChange, ConfigChange__Output as _weft_v1_ConfigChange__Output } from './weft/v1/ConfigChange.js';
import type { ConfigDocument as _weft_v1_ConfigDocument, ConfigDocument__Output as _weft_v1_ConfigDocument__Output } from './weft/v1/ConfigDocument.js';
import type { ConfigHistoryRequest as _weft_v1_ConfigHistoryRequest, ConfigHistoryRequest__Output as _weft_v1_ConfigHistoryRequest__Output } from './weft/v1/ConfigHistoryRequest.js';
import type { ConfigHistoryResponse as _weft_v1_ConfigHistoryResponse, ConfigHistoryResponse__Output as _weft_v1_ConfigHistoryResponse__Output } from './weft/v1/ConfigHistoryResponse.js';
import type { ConfigRevision as _weft_v1_ConfigRevision, ConfigRevision__Output as _weft_v1_ConfigRevision__Output } from './weft/v1/ConfigRevision.js';
import type { CreateTokenRequest as _weft_v1_CreateTokenRequest, CreateTokenRequest__Output as _weft_v1_CreateTokenRequest__Output } from './weft/v1/CreateTokenRequest.js';
import type { CreateTokenResponse as _weft_v1_CreateTokenResponse, CreateTokenResponse__Output as _weft_v1_CreateTokenResponse__Output } from './weft/v1/CreateTokenResponse.js';
import type { DeleteConfigRequest as _weft_v1_DeleteConfigRequest, DeleteConfigRequest__Output as _weft_v1_DeleteConfigRequest__Output } from './weft/v1/DeleteConfigRequest.js';
import type { DeregisterRequest as _weft_v1_DeregisterRequest, DeregisterRequest__Output as _weft_v1_DeregisterRequest__Output } from './weft/v1/DeregisterRequest.js';
import type { DeregisterResponse as _weft_v1_DeregisterResponse, DeregisterResponse__Output as _weft_v1_DeregisterResponse__Output } from './weft/v1/DeregisterResponse.js';
import type { DiscoveryClient as _weft_v1_DiscoveryClient, DiscoveryDefinition as _weft_v1_DiscoveryDefinition } from './weft/v1/Discovery.js';
import type { DiscoveryRequest as _weft_v1_DiscoveryRequest, DiscoveryRequest__Output as _weft_v1_DiscoveryRequest__Output } from './weft/v1/DiscoveryRequest.js';
import type { DiscoveryResponse as _weft_v1_DiscoveryResponse, DiscoveryResponse__Output as _weft_v1_DiscoveryResponse__Output } from './weft/v1/DiscoveryResponse.js';
import type { Endpoint as _weft_v1_Endpoint, Endpoint__Output as _weft_v1_Endpoint__Output } from './weft/v1/Endpoint.js';
import type { EnrolRequest as _weft_v1_EnrolRequest, EnrolRequest__Output as _weft_v1_EnrolRequest__Output } from './weft/v1/EnrolRequest.js';
import type { ExternalService as _weft_v1_ExternalService, ExternalService__Output as _weft_v1_ExternalService__Output } from './weft/v1/ExternalService.js';
import type { GetConfigRequest as _weft_v1_GetConfigRequest, GetConfigRequest__Output as _weft_v1_GetConfigRequest__Output } from './weft/v1/GetConfigRequest.js';
import type { GetConfigResponse as _weft_v1_GetConfigResponse, GetConfigResponse__Output as _weft_v1_GetConfigResponse__Output } from './weft/v1/GetConfigResponse.js';
import type { Instance as _weft_v1_Instance, Instance__Output as _weft_v1_Instance__Output } from './weft/v1/Instance.js';
import type { IssueServiceCertificateRequest as _weft_v1_IssueServiceCertificateRequest, IssueServiceCertificateRequest__Output as _weft_v1_IssueServiceCertificateRequest__Output } from './weft/v1/IssueServiceCertificateRequest.js';
import type { IssuedCertificate as _weft_v1_IssuedCertificate, IssuedCertificate__Output as _weft_v1_IssuedCertificate__Output } from './weft/v1/IssuedCertificate.js';
import type { ListAgentsRequest as _weft_v1_ListAgentsRequest, ListAgentsRequest__Output as _weft_v1_ListAgentsRequest__Output } from './weft/v1/ListAgentsRequest.js';
import type { ListAgentsResponse as _weft_v1_ListAgentsResponse, ListAgentsResponse__Output as _weft_v1_ListAgentsResponse__Output } from './weft/v1/ListAgentsResponse.js';
import type { ListRootsRequest as _weft_v1_ListRootsRequest, ListRootsRequest__Output as _weft_v1_ListRootsRequest__Output } from './weft/v1/ListRootsRequest.js';
import type { ListRootsResponse as _weft_v1_ListRootsResponse, ListRootsResponse__Output as _weft_v1_ListRootsResponse__Output } from './weft/v1/ListRootsResponse.js';
import type { ListServicesRequest as _weft_v1_ListServicesRequest, ListServicesRequest__Output as _weft_v1_ListServicesRequest__Output } from './weft/v1/ListServicesRequest.js';
import type { ListServicesResponse as _weft_v1_ListServicesResponse, ListServicesResponse__Output as _weft_v1_ListServicesResponse__Output } from './weft/v1/ListServicesResponse.js';
import type { ListTokensRequest as _weft_v1_ListTokensRequest, ListTokensRequest__Output as _weft_v1_ListTokensRequest__Output } from './weft/v1/ListTokensRequest.js';
import type { ListTokensResponse as _weft_v1_ListTokensResponse, ListTokensResponse__Output as _weft_v1_ListTokensResponse__Output } from './weft/v1/ListTokensResponse.js';
import type { MeshSettings as _weft_v1_MeshSettings, MeshSettings__Output as _weft_v1_MeshSettings__Output } from './weft/v1/MeshSettings.js';
import type { RegisterRequest as _weft_v1_RegisterRequest, RegisterRequest__Output as _weft_v1_RegisterRequest__Output } from './weft/v1/RegisterRequest.js';
import type { RegisterResponse as _weft_v1_RegisterResponse, RegisterResponse__Output as _weft_v1_RegisterResponse__Output } from './weft/v1/RegisterResponse.js';
import type { RegistryClient as _weft_v1_RegistryClient, RegistryDefinition as _weft_v1_RegistryDefinition } from './weft/v1/Registry.js';
import type { RenewCertificateRequest as _weft_v1_RenewCertificateRequest, RenewCertificateRequest__Output as _weft_v1_RenewCertificateRequest__Output } from './weft/v1/RenewCertificateRequest.js';
import type { Resource as _weft_v1_Resource, Resource__Output as _weft_v1_Resource__Output } from './weft/v1/Resource.js';
import type { ResourceError as _weft_v1_ResourceError, ResourceError__Output as _weft_v1_ResourceError__Output } from './weft/v1/ResourceError.js';
import type { ResourceState as _weft_v1_ResourceState, ResourceState__Output as _weft_v1_ResourceState__Output } from './weft/v1/ResourceState.js';
import type { RevocationList as _weft_v1_RevocationList, RevocationList__Output as _weft_v1_RevocationList__Output } from './weft/v1/RevocationList.js';
import type { RevokeAgentRequest as _weft_v1_RevokeAgentRequest, RevokeAgentRequest__Output as _weft_v1_RevokeAgentRequest__Output } from './weft/v1/RevokeAgentRequest.js';
import type { RevokeAgentResponse as _weft_v1_RevokeAgentResponse, RevokeAgentResponse__Output as _weft_v1_RevokeAgentResponse__Output } from './weft/v1/RevokeAgentResponse.js';
import type { RevokeTokenRequest as _weft_v1_RevokeTokenRequest, RevokeTokenRequest__Output as _weft_v1_RevokeTokenRequest__Output } from './weft/v1/RevokeTokenRequest.js';
import type { RevokeTokenResponse as _weft_v1_RevokeTokenResponse, RevokeTokenResponse__Output as _weft_v1_RevokeTokenResponse__Output } from './weft/v1/RevokeTokenResponse.js';
import type { RollbackConfigRequest as _weft_v1_RollbackConfigRequest, RollbackConfigRequest__Output as _weft_v1_RollbackConfigRequest__Output } from './weft/v1/RollbackConfigRequest.js';
import type { RotateRootRequest as _weft_v1_RotateRootRequest, RotateRootRequest__Output as _weft_v1_RotateRootRequest__Output } from './weft/v1/RotateRootRequest.js';
import type { ServiceEndpoints as _weft_v1_ServiceEndpoints, ServiceEndpoints__Output as _weft_v1_ServiceEndpoints__Output } from './weft/v1/ServiceEndpoints.js';
import type { ServicePolicy as _weft_v1_ServicePolicy, ServicePolicy__Output as _weft_v1_ServicePolicy__Output } from './weft/v1/ServicePolicy.js';
import type { ServiceSummary as _weft_v1_ServiceSummary, ServiceSummary__Output as _weft_v1_ServiceSummary__Output } from './weft/v1/ServiceSummary.js';
import type { SetHealthRequest as _weft_v1_SetHealthRequest, SetHealthRequest__Output as _weft_v1_SetHealthRequest__Output } from './weft/v1/SetHealthRequest.js';
import type { SetHealthResponse as _weft_v1_SetHealthResponse, SetHealthResponse__Output as _weft_v1_SetHealthResponse__Output } from './weft/v1/SetHealthResponse.js';
import type { StoredConfig as _weft_v1_StoredConfig, StoredConfig__Output as _weft_v1_StoredConfig__Output } from './weft/v1/StoredConfig.js';
import type { TokenInfo as _weft_v1_TokenInfo, TokenInfo__Output as _weft_v1_TokenInfo__Output } from './weft/v1/TokenInfo.js';
import type { TrustClient as _weft_v1_TrustClient, TrustDefinition as _weft_v1_TrustDefinition } from './weft/v1/Trust.js';
import type { TrustBundle as _weft_v1_TrustBundle, TrustBundle__Output as _weft_v1_TrustBundle__Output } from './weft/v1/TrustBundle.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  weft: {
    v1: {
      AgentInfo: MessageTypeDefinition<_weft_v1_AgentInfo, _weft_v1_AgentInfo__Output>
      AgentStatus: MessageTypeDefinition<_weft_v1_AgentStatus, _weft_v1_AgentStatus__Output>
      ApplyConfigRequest: MessageTypeDefinition<_weft_v1_ApplyConfigRequest, _weft_v1_ApplyConfigRequest__Output>
      ApplyConfigResponse: MessageTypeDefinition<_weft_v1_ApplyConfigResponse, _weft_v1_ApplyConfigResponse__Output>
      CaRoot: MessageTypeDefinition<_weft_v1_CaRoot, _weft_v1_CaRoot__Output>
      ConfigChange: MessageTypeDefinition<_weft_v1_ConfigChange, _weft_v1_ConfigChange__Output>
      ConfigDocument: MessageTypeDefinition<_weft_v1_ConfigDocument, _weft_v1_ConfigDocument__Output>
      ConfigHistoryRequest: MessageTypeDefinition<_weft_v1_ConfigHistoryRequest, _weft_v1_ConfigHistoryRequest__Output>
      ConfigHistoryResponse: MessageTypeDefinition<_weft_v1_ConfigHistoryResponse, _weft_v1_ConfigHistoryResponse__Output>
      ConfigRevision: MessageTypeDefinition<_weft_v1_ConfigRevision, _weft_v1_ConfigRevision__Output>
      CreateTokenRequest: MessageTypeDefinition<_weft_v1_CreateTokenRequest, _weft_v1_CreateTokenRequest__Output>
      CreateTokenResponse: MessageTypeDefinition<_weft_v1_CreateTokenResponse, _weft_v1_CreateTokenResponse__Output>
      DeleteConfigRequest: MessageTypeDefinition<_weft_v1_DeleteConfigRequest, _weft_v1_DeleteConfigRequest__Output>
      DeregisterRequest: MessageTypeDefinition<_weft_v1_DeregisterRequest, _weft_v1_DeregisterRequest__Output>
      DeregisterResponse: MessageTypeDefinition<_weft_v1_DeregisterResponse, _weft_v1_DeregisterResponse__Output>
      Discovery: SubtypeConstructor<typeof grpc.Client, _weft_v1_DiscoveryClient> & { service: _weft_v1_DiscoveryDefinition }
      DiscoveryRequest: MessageTypeDefinition<_weft_v1_DiscoveryRequest, _weft_v1_DiscoveryRequest__Output>
      DiscoveryResponse: MessageTypeDefinition<_weft_v1_DiscoveryResponse, _weft_v1_DiscoveryResponse__Output>
      Endpoint: MessageTypeDefinition<_weft_v1_Endpoint, _weft_v1_Endpoint__Output>
      EnrolRequest: MessageTypeDefinition<_weft_v1_EnrolRequest, _weft_v1_EnrolRequest__Output>
      ExternalService: MessageTypeDefinition<_weft_v1_ExternalService, _weft_v1_ExternalService__Output>
      GetConfigRequest: MessageTypeDefinition<_weft_v1_GetConfigRequest, _weft_v1_GetConfigRequest__Output>
      GetConfigResponse: MessageTypeDefinition<_weft_v1_GetConfigResponse, _weft_v1_GetConfigResponse__Output>
      Health: EnumTypeDefinition
      Instance: MessageTypeDefinition<_weft_v1_Instance, _weft_v1_Instance__Output>
      IssueServiceCertificateRequest: MessageTypeDefinition<_weft_v1_IssueServiceCertificateRequest, _weft_v1_IssueServiceCertificateRequest__Output>
      IssuedCertificate: MessageTypeDefinition<_weft_v1_IssuedCertificate, _weft_v1_IssuedCertificate__Output>
      ListAgentsRequest: MessageTypeDefinition<_weft_v1_ListAgentsRequest, _weft_v1_ListAgentsRequest__Output>
      ListAgentsResponse: MessageTypeDefinition<_weft_v1_ListAgentsResponse, _weft_v1_ListAgentsResponse__Output>
      ListRootsRequest: MessageTypeDefinition<_weft_v1_ListRootsRequest, _weft_v1_ListRootsRequest__Output>
      ListRootsResponse: MessageTypeDefinition<_weft_v1_ListRootsResponse, _weft_v1_ListRootsResponse__Output>
      ListServicesRequest: MessageTypeDefinition<_weft_v1_ListServicesRequest, _weft_v1_ListServicesRequest__Output>
      ListServicesResponse: MessageTypeDefinition<_weft_v1_ListServicesResponse, _weft_v1_ListServicesResponse__Output>
      ListTokensRequest: MessageTypeDefinition<_weft_v1_ListTokensRequest, _weft_v1_ListTokensRequest__Output>
      ListTokensResponse: MessageTypeDefinition<_weft_v1_ListTokensResponse, _weft_v1_ListTokensResponse__Output>
      MeshSettings: MessageTypeDefinition<_weft_v1_MeshSettings, _weft_v1_MeshSettings__Output>
      RegisterRequest: MessageTypeDefinition<_weft_v1_RegisterRequest, _weft_v1_RegisterRequest__Output>
      RegisterResponse: MessageTypeDefinition<_weft_v1_RegisterResponse, _weft_v1_RegisterResponse__Output>
      Registry: SubtypeConstructor<typeof grpc.Client, _weft_v1_RegistryClient> & { service: _weft_v1_RegistryDefinition }
      RenewCertificateRequest: MessageTypeDefinition<_weft_v1_RenewCertificateRequest, _weft_v1_RenewCertificateRequest__Output>
      Resource: MessageTypeDefinition<_weft_v1_Resource, _weft_v1_Resource__Output>
      ResourceError: MessageTypeDefinition<_weft_v1_ResourceError, _weft_v1_ResourceError__Output>
      ResourceState: MessageTypeDefinition<_weft_v1_ResourceState, _weft_v1_ResourceState__Output>
      RevocationList: MessageTypeDefinition<_weft_v1_RevocationList, _weft_v1_RevocationList__Output>
      RevokeAgentRequest: MessageTypeDefinition<_weft_v1_RevokeAgentRequest, _weft_v1_RevokeAgentRequest__Output>
      RevokeAgentResponse: MessageTypeDefinition<_weft_v1_RevokeAgentResponse, _weft_v1_RevokeAgentResponse__Output>
      RevokeTokenRequest: MessageTypeDefinition<_weft_v1_RevokeTokenRequest, _weft_v1_RevokeTokenRequest__Output>
      RevokeTokenResponse: MessageTypeDefinition<_weft_v1_RevokeTokenResponse, _weft_v1_RevokeTokenResponse__Output>
      RollbackConfigRequest: MessageTypeDefinition<_weft_v1_RollbackConfigRequest, _weft_v1_RollbackConfigRequest__Output>
      RotateRootRequest: MessageTypeDefinition<_weft_v1_RotateRootRequest, _weft_v1_RotateRootRequest__Output>
      ServiceEndpoints: MessageTypeDefinition<_weft_v1_ServiceEndpoints, _weft_v1_ServiceEndpoints__Output>
      ServicePolicy: MessageTypeDefinition<_weft_v1_ServicePolicy, _weft_v1_ServicePolicy__Output>
      ServiceSummary: MessageTypeDefinition<_weft_v1_ServiceSummary, _weft_v1_ServiceSummary__Output>
      SetHealthRequest: MessageTypeDefinition<_weft_v1_SetHealthRequest, _weft_v1_SetHealthRequest__Output>
      SetHealthResponse: MessageTypeDefinition<_weft_v1_SetHealthResponse, _weft_v1_SetHealthResponse__Output>
      StoredConfig: MessageTypeDefinition<_weft_v1_StoredConfig, _weft_v1_StoredConfig__Output>
      TokenInfo: MessageTypeDefinition<_weft_v1_TokenInfo, _weft_v1_TokenInfo__Output>
      TokenKind: EnumTypeDefinition
      Trust: SubtypeConstructor<typeof grpc.Client, _weft_v1_TrustClient> & { service: _weft_v1_TrustDefinition }
      TrustBundle: MessageTypeDefinition<_weft_v1_TrustBundle, _weft_v1_TrustBundle__Output>
    }
  }
}

