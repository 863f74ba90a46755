// Original file: proto/weft/v1/registry.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ApplyConfigRequest as _weft_v1_ApplyConfigRequest, ApplyConfigRequest__Output as _weft_v1_ApplyConfigRequest__Output } from '../../weft/v1/ApplyConfigRequest.js';
import type { ApplyConfigResponse as _weft_v1_ApplyConfigResponse, ApplyConfigResponse__Output as _weft_v1_ApplyConfigResponse__Output } from '../../weft/v1/ApplyConfigResponse.js';
import type { ConfigHistoryRequest as _weft_v1_ConfigHistoryRequest, ConfigHistoryRequest__Output as _weft_v1_ConfigHistoryRequest__Output } from '../../weft/v1/ConfigHistoryRequest.js';
import type { ConfigHistoryResponse as _weft_v1_ConfigHistoryResponse, ConfigHistoryResponse__Output as _weft_v1_ConfigHistoryResponse__Output } from '../../weft/v1/ConfigHistoryResponse.js';
import type { DeleteConfigRequest as _weft_v1_DeleteConfigRequest, DeleteConfigRequest__Output as _weft_v1_DeleteConfigRequest__Output } from '../../weft/v1/DeleteConfigRequest.js';
import type { DeregisterRequest as _weft_v1_DeregisterRequest, DeregisterRequest__Output as _weft_v1_DeregisterRequest__Output } from '../../weft/v1/DeregisterRequest.js';
import type { DeregisterResponse as _weft_v1_DeregisterResponse, DeregisterResponse__Output as _weft_v1_DeregisterResponse__Output } from '../../weft/v1/DeregisterResponse.js';
import type { GetConfigRequest as _weft_v1_GetConfigRequest, GetConfigRequest__Output as _weft_v1_GetConfigRequest__Output } from '../../weft/v1/GetConfigRequest.js';
import type { GetConfigResponse as _weft_v1_GetConfigResponse, GetConfigResponse__Output as _weft_v1_GetConfigResponse__Output } from '../../weft/v1/GetConfigResponse.js';
import type { ListAgentsRequest as _weft_v1_ListAgentsRequest, ListAgentsRequest__Output as _weft_v1_ListAgentsRequest__Output } from '../../weft/v1/ListAgentsRequest.js';
import type { ListAgentsResponse as _weft_v1_ListAgentsResponse, ListAgentsResponse__Output as _weft_v1_ListAgentsResponse__Output } from '../../weft/v1/ListAgentsResponse.js';
import type { ListServicesRequest as _weft_v1_ListServicesRequest, ListServicesRequest__Output as _weft_v1_ListServicesRequest__Output } from '../../weft/v1/ListServicesRequest.js';
import type { ListServicesResponse as _weft_v1_ListServicesResponse, ListServicesResponse__Output as _weft_v1_ListServicesResponse__Output } from '../../weft/v1/ListServicesResponse.js';
import type { RegisterRequest as _weft_v1_RegisterRequest, RegisterRequest__Output as _weft_v1_RegisterRequest__Output } from '../../weft/v1/RegisterRequest.js';
import type { RegisterResponse as _weft_v1_RegisterResponse, RegisterResponse__Output as _weft_v1_RegisterResponse__Output } from '../../weft/v1/RegisterResponse.js';
import type { RollbackConfigRequest as _weft_v1_RollbackConfigRequest, RollbackConfigRequest__Output as _weft_v1_RollbackConfigRequest__Output } from '../../weft/v1/RollbackConfigRequest.js';
import type { SetHealthRequest as _weft_v1_SetHealthRequest, SetHealthRequest__Output as _weft_v1_SetHealthRequest__Output } from '../../weft/v1/SetHealthRequest.js';
import type { SetHealthResponse as _weft_v1_SetHealthResponse, SetHealthResponse__Output as _weft_v1_SetHealthResponse__Output } from '../../weft/v1/SetHealthResponse.js';

export interface RegistryClient extends grpc.Client {
  ApplyConfig(argument: _weft_v1_ApplyConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  ApplyConfig(argument: _weft_v1_ApplyConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  ApplyConfig(argument: _weft_v1_ApplyConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  ApplyConfig(argument: _weft_v1_ApplyConfigRequest, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  applyConfig(argument: _weft_v1_ApplyConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  applyConfig(argument: _weft_v1_ApplyConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  applyConfig(argument: _weft_v1_ApplyConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  applyConfig(argument: _weft_v1_ApplyConfigRequest, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  
  ConfigHistory(argument: _weft_v1_ConfigHistoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ConfigHistoryResponse__Output>): grpc.ClientUnaryCall;
  ConfigHistory(argument: _weft_v1_ConfigHistoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ConfigHistoryResponse__Output>): grpc.ClientUnaryCall;
  ConfigHistory(argument: _weft_v1_ConfigHistoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ConfigHistoryResponse__Output>): grpc.ClientUnaryCall;
  ConfigHistory(argument: _weft_v1_ConfigHistoryRequest, callback: grpc.requestCallback<_weft_v1_ConfigHistoryResponse__Output>): grpc.ClientUnaryCall;
  configHistory(argument: _weft_v1_ConfigHistoryRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ConfigHistoryResponse__Output>): grpc.ClientUnaryCall;
  configHistory(argument: _weft_v1_ConfigHistoryRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ConfigHistoryResponse__Output>): grpc.ClientUnaryCall;
  configHistory(argument: _weft_v1_ConfigHistoryRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ConfigHistoryResponse__Output>): grpc.ClientUnaryCall;
  configHistory(argument: _weft_v1_ConfigHistoryRequest, callback: grpc.requestCallback<_weft_v1_ConfigHistoryResponse__Output>): grpc.ClientUnaryCall;
  
  DeleteConfig(argument: _weft_v1_DeleteConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  DeleteConfig(argument: _weft_v1_DeleteConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  DeleteConfig(argument: _weft_v1_DeleteConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  DeleteConfig(argument: _weft_v1_DeleteConfigRequest, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  deleteConfig(argument: _weft_v1_DeleteConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  deleteConfig(argument: _weft_v1_DeleteConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  deleteConfig(argument: _weft_v1_DeleteConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  deleteConfig(argument: _weft_v1_DeleteConfigRequest, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  
  Deregister(argument: _weft_v1_DeregisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  Deregister(argument: _weft_v1_DeregisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  Deregister(argument: _weft_v1_DeregisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  Deregister(argument: _weft_v1_DeregisterRequest, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _weft_v1_DeregisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _weft_v1_DeregisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _weft_v1_DeregisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _weft_v1_DeregisterRequest, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  
  GetConfig(argument: _weft_v1_GetConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_GetConfigResponse__Output>): grpc.ClientUnaryCall;
  GetConfig(argument: _weft_v1_GetConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_GetConfigResponse__Output>): grpc.ClientUnaryCall;
  GetConfig(argument: _weft_v1_GetConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_GetConfigResponse__Output>): grpc.ClientUnaryCall;
  GetConfig(argument: _weft_v1_GetConfigRequest, callback: grpc.requestCallback<_weft_v1_GetConfigResponse__Output>): grpc.ClientUnaryCall;
  getConfig(argument: _weft_v1_GetConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_GetConfigResponse__Output>): grpc.ClientUnaryCall;
  getConfig(argument: _weft_v1_GetConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_GetConfigResponse__Output>): grpc.ClientUnaryCall;
  getConfig(argument: _weft_v1_GetConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_GetConfigResponse__Output>): grpc.ClientUnaryCall;
  getConfig(argument: _weft_v1_GetConfigRequest, callback: grpc.requestCallback<_weft_v1_GetConfigResponse__Output>): grpc.ClientUnaryCall;
  
  ListAgents(argument: _weft_v1_ListAgentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  ListAgents(argument: _weft_v1_ListAgentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  ListAgents(argument: _weft_v1_ListAgentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  ListAgents(argument: _weft_v1_ListAgentsRequest, callback: grpc.requestCallback<_weft_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  listAgents(argument: _weft_v1_ListAgentsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  listAgents(argument: _weft_v1_ListAgentsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  listAgents(argument: _weft_v1_ListAgentsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  listAgents(argument: _weft_v1_ListAgentsRequest, callback: grpc.requestCallback<_weft_v1_ListAgentsResponse__Output>): grpc.ClientUnaryCall;
  
  ListServices(argument: _weft_v1_ListServicesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  ListServices(argument: _weft_v1_ListServicesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  ListServices(argument: _weft_v1_ListServicesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  ListServices(argument: _weft_v1_ListServicesRequest, callback: grpc.requestCallback<_weft_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  listServices(argument: _weft_v1_ListServicesRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  listServices(argument: _weft_v1_ListServicesRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  listServices(argument: _weft_v1_ListServicesRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  listServices(argument: _weft_v1_ListServicesRequest, callback: grpc.requestCallback<_weft_v1_ListServicesResponse__Output>): grpc.ClientUnaryCall;
  
  Register(argument: _weft_v1_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _weft_v1_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _weft_v1_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  Register(argument: _weft_v1_RegisterRequest, callback: grpc.requestCallback<_weft_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _weft_v1_RegisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _weft_v1_RegisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _weft_v1_RegisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  register(argument: _weft_v1_RegisterRequest, callback: grpc.requestCallback<_weft_v1_RegisterResponse__Output>): grpc.ClientUnaryCall;
  
  RollbackConfig(argument: _weft_v1_RollbackConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  RollbackConfig(argument: _weft_v1_RollbackConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  RollbackConfig(argument: _weft_v1_RollbackConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  RollbackConfig(argument: _weft_v1_RollbackConfigRequest, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  rollbackConfig(argument: _weft_v1_RollbackConfigRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  rollbackConfig(argument: _weft_v1_RollbackConfigRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  rollbackConfig(argument: _weft_v1_RollbackConfigRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  rollbackConfig(argument: _weft_v1_RollbackConfigRequest, callback: grpc.requestCallback<_weft_v1_ApplyConfigResponse__Output>): grpc.ClientUnaryCall;
  
  SetHealth(argument: _weft_v1_SetHealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_SetHealthResponse__Output>): grpc.ClientUnaryCall;
  SetHealth(argument: _weft_v1_SetHealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_SetHealthResponse__Output>): grpc.ClientUnaryCall;
  SetHealth(argument: _weft_v1_SetHealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_SetHealthResponse__Output>): grpc.ClientUnaryCall;
  SetHealth(argument: _weft_v1_SetHealthRequest, callback: grpc.requestCallback<_weft_v1_SetHealthResponse__Output>): grpc.ClientUnaryCall;
  setHealth(argument: _weft_v1_SetHealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_SetHealthResponse__Output>): grpc.ClientUnaryCall;
  setHealth(argument: _weft_v1_SetHealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_SetHealthResponse__Output>): grpc.ClientUnaryCall;
  setHealth(argument: _weft_v1_SetHealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_SetHealthResponse__Output>): grpc.ClientUnaryCall;
  setHealth(argument: _weft_v1_SetHealthRequest, callback: grpc.requestCallback<_weft_v1_SetHealthResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface RegistryHandlers extends grpc.UntypedServiceImplementation {
  ApplyConfig: grpc.handleUnaryCall<_weft_v1_ApplyConfigRequest__Output, _weft_v1_ApplyConfigResponse>;
  
  ConfigHistory: grpc.handleUnaryCall<_weft_v1_ConfigHistoryRequest__Output, _weft_v1_ConfigHistoryResponse>;
  
  DeleteConfig: grpc.handleUnaryCall<_weft_v1_DeleteConfigRequest__Output, _weft_v1_ApplyConfigResponse>;
  
  Deregister: grpc.handleUnaryCall<_weft_v1_DeregisterRequest__Output, _weft_v1_DeregisterResponse>;
  
  GetConfig: grpc.handleUnaryCall<_weft_v1_GetConfigRequest__Output, _weft_v1_GetConfigResponse>;
  
  ListAgents: grpc.handleUnaryCall<_weft_v1_ListAgentsRequest__Output, _weft_v1_ListAgentsResponse>;
  
  ListServices: grpc.handleUnaryCall<_weft_v1_ListServicesRequest__Output, _weft_v1_ListServicesResponse>;
  
  Register: grpc.handleUnaryCall<_weft_v1_RegisterRequest__Output, _weft_v1_RegisterResponse>;
  
  RollbackConfig: grpc.handleUnaryCall<_weft_v1_RollbackConfigRequest__Output, _weft_v1_ApplyConfigResponse>;
  
  SetHealth: grpc.handleUnaryCall<_weft_v1_SetHealthRequest__Output, _weft_v1_SetHealthResponse>;
  
}

export interface RegistryDefinition extends grpc.ServiceDefinition {
  ApplyConfig: MethodDefinition<_weft_v1_ApplyConfigRequest, _weft_v1_ApplyConfigResponse, _weft_v1_ApplyConfigRequest__Output, _weft_v1_ApplyConfigResponse__Output>
  ConfigHistory: MethodDefinition<_weft_v1_ConfigHistoryRequest, _weft_v1_ConfigHistoryResponse, _weft_v1_ConfigHistoryRequest__Output, _weft_v1_ConfigHistoryResponse__Output>
  DeleteConfig: MethodDefinition<_weft_v1_DeleteConfigRequest, _weft_v1_ApplyConfigResponse, _weft_v1_DeleteConfigRequest__Output, _weft_v1_ApplyConfigResponse__Output>
  Deregister: MethodDefinition<_weft_v1_DeregisterRequest, _weft_v1_DeregisterResponse, _weft_v1_DeregisterRequest__Output, _weft_v1_DeregisterResponse__Output>
  GetConfig: MethodDefinition<_weft_v1_GetConfigRequest, _weft_v1_GetConfigResponse, _weft_v1_GetConfigRequest__Output, _weft_v1_GetConfigResponse__Output>
  ListAgents: MethodDefinition<_weft_v1_ListAgentsRequest, _weft_v1_ListAgentsResponse, _weft_v1_ListAgentsRequest__Output, _weft_v1_ListAgentsResponse__Output>
  ListServices: MethodDefinition<_weft_v1_ListServicesRequest, _weft_v1_ListServicesResponse, _weft_v1_ListServicesRequest__Output, _weft_v1_ListServicesResponse__Output>
  Register: MethodDefinition<_weft_v1_RegisterRequest, _weft_v1_RegisterResponse, _weft_v1_RegisterRequest__Output, _weft_v1_RegisterResponse__Output>
  RollbackConfig: MethodDefinition<_weft_v1_RollbackConfigRequest, _weft_v1_ApplyConfigResponse, _weft_v1_RollbackConfigRequest__Output, _weft_v1_ApplyConfigResponse__Output>
  SetHealth: MethodDefinition<_weft_v1_SetHealthRequest, _weft_v1_SetHealthResponse, _weft_v1_SetHealthRequest__Output, _weft_v1_SetHealthResponse__Output>
}
