// Original file: proto/weft/v1/registry.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DeregisterRequest as _weft_v1_DeregisterRequest, DeregisterRequest__Output as _weft_v1_DeregisterRequest__Output } from '../../weft/v1/DeregisterRequest.js';
import type { DeregisterResponse as _weft_v1_DeregisterResponse, DeregisterResponse__Output as _weft_v1_DeregisterResponse__Output } from '../../weft/v1/DeregisterResponse.js';
import type { ListAgentsRequest as _weft_v1_ListAgentsRequest, ListAgentsRequest__Output as _weft_v1_ListAgentsRequest__Output } from '../../weft/v1/ListAgentsRequest.js';
import type { ListAgentsResponse as _weft_v1_ListAgentsResponse, ListAgentsResponse__Output as _weft_v1_ListAgentsResponse__Output } from '../../weft/v1/ListAgentsResponse.js';
import type { ListServicesRequest as _weft_v1_ListServicesRequest, ListServicesRequest__Output as _weft_v1_ListServicesRequest__Output } from '../../weft/v1/ListServicesRequest.js';
import type { ListServicesResponse as _weft_v1_ListServicesResponse, ListServicesResponse__Output as _weft_v1_ListServicesResponse__Output } from '../../weft/v1/ListServicesResponse.js';
import type { RegisterRequest as _weft_v1_RegisterRequest, RegisterRequest__Output as _weft_v1_RegisterRequest__Output } from '../../weft/v1/RegisterRequest.js';
import type { RegisterResponse as _weft_v1_RegisterResponse, RegisterResponse__Output as _weft_v1_RegisterResponse__Output } from '../../weft/v1/RegisterResponse.js';
import type { SetHealthRequest as _weft_v1_SetHealthRequest, SetHealthRequest__Output as _weft_v1_SetHealthRequest__Output } from '../../weft/v1/SetHealthRequest.js';
import type { SetHealthResponse as _weft_v1_SetHealthResponse, SetHealthResponse__Output as _weft_v1_SetHealthResponse__Output } from '../../weft/v1/SetHealthResponse.js';

export interface RegistryClient extends grpc.Client {
  Deregister(argument: _weft_v1_DeregisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  Deregister(argument: _weft_v1_DeregisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  Deregister(argument: _weft_v1_DeregisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  Deregister(argument: _weft_v1_DeregisterRequest, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _weft_v1_DeregisterRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _weft_v1_DeregisterRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _weft_v1_DeregisterRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  deregister(argument: _weft_v1_DeregisterRequest, callback: grpc.requestCallback<_weft_v1_DeregisterResponse__Output>): grpc.ClientUnaryCall;
  
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
  Deregister: grpc.handleUnaryCall<_weft_v1_DeregisterRequest__Output, _weft_v1_DeregisterResponse>;
  
  ListAgents: grpc.handleUnaryCall<_weft_v1_ListAgentsRequest__Output, _weft_v1_ListAgentsResponse>;
  
  ListServices: grpc.handleUnaryCall<_weft_v1_ListServicesRequest__Output, _weft_v1_ListServicesResponse>;
  
  Register: grpc.handleUnaryCall<_weft_v1_RegisterRequest__Output, _weft_v1_RegisterResponse>;
  
  SetHealth: grpc.handleUnaryCall<_weft_v1_SetHealthRequest__Output, _weft_v1_SetHealthResponse>;
  
}

export interface RegistryDefinition extends grpc.ServiceDefinition {
  Deregister: MethodDefinition<_weft_v1_DeregisterRequest, _weft_v1_DeregisterResponse, _weft_v1_DeregisterRequest__Output, _weft_v1_DeregisterResponse__Output>
  ListAgents: MethodDefinition<_weft_v1_ListAgentsRequest, _weft_v1_ListAgentsResponse, _weft_v1_ListAgentsRequest__Output, _weft_v1_ListAgentsResponse__Output>
  ListServices: MethodDefinition<_weft_v1_ListServicesRequest, _weft_v1_ListServicesResponse, _weft_v1_ListServicesRequest__Output, _weft_v1_ListServicesResponse__Output>
  Register: MethodDefinition<_weft_v1_RegisterRequest, _weft_v1_RegisterResponse, _weft_v1_RegisterRequest__Output, _weft_v1_RegisterResponse__Output>
  SetHealth: MethodDefinition<_weft_v1_SetHealthRequest, _weft_v1_SetHealthResponse, _weft_v1_SetHealthRequest__Output, _weft_v1_SetHealthResponse__Output>
}
