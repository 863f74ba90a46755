/**
 * gRPC glue of the Discovery service: opens a DiscoveryStream for each call,
 * ties it to the agent's lease and the stream table, and ends the call with a
 * status when the first request is bad or a newer stream replaces it. The
 * call passed the auth guard (authz.ts): its agent is the certificate's.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '@weft/shared';
import { UnavailableError, ValidationError } from '@weft/shared';
import type { DiscoveryRequest__Output } from '@weft/shared/generated/weft/v1/DiscoveryRequest';
import type { DiscoveryResponse } from '@weft/shared/generated/weft/v1/DiscoveryResponse';
import type { MeshSettingsSource } from '../registry/mesh-settings.js';
import type { Registry } from '../registry/registry.js';
import { actingAgent } from './authz.js';
import { DiscoveryStream, type ExternalSource, type StreamObserver, type TrustSource } from './discovery-stream.js';
import { parseAgentInfo } from './parse.js';
import type { PolicySource } from './policy-translate.js';
import type { RejectedVersions } from './rejected-versions.js';
import { type GrpcError, isInternal, streamReplacedError, toGrpcError } from './status.js';
import type { StreamHandle, StreamTable } from './stream-table.js';

export interface DiscoveryServiceDeps {
  registry: Registry;
  streams: StreamTable;
  logger: Logger;
  /** Versions each agent rejected, kept across its streams. */
  rejections: RejectedVersions;
  observer?: StreamObserver;
  policies?: PolicySource;
  settings?: MeshSettingsSource;
  /** "trust/..." resources (deny list, CA bundle). */
  trust?: TrustSource;
  externals?: ExternalSource;
}

type DiscoveryCall = grpc.ServerDuplexStream<DiscoveryRequest__Output, DiscoveryResponse>;

export function createDiscoveryHandlers(deps: DiscoveryServiceDeps): { Stream: (call: DiscoveryCall) => void } {
  let seq = 0;
  return {
    Stream(call: DiscoveryCall): void {
      const streamId = String(++seq);
      let log = deps.logger.child({ stream: streamId });
      let handle: StreamHandle | undefined;
      let done = false;

      /** Releases the stream once, however the call ended. */
      const finish = (reason: string): void => {
        if (done) return;
        done = true;
        if (!handle) return;
        handle.stream.close();
        deps.streams.remove(handle);
        deps.registry.agentDisconnected(handle.agentId);
        log.info('agent disconnected', { reason });
      };

      const endWith = (status: GrpcError, reason: string): void => {
        const wasDone = done;
        finish(reason);
        if (!wasDone) call.emit('error', status);
      };

      const open = (req: DiscoveryRequest__Output): StreamHandle => {
        if (!req.agent) throw new ValidationError('agent', 'is required on the first request of a stream');
        // The stream's identity is the caller's certificate; the request may only repeat it.
        const agentId = actingAgent(call, req.agent.agent_id, 'agent.agent_id');
        const agent = parseAgentInfo({ ...req.agent, agent_id: agentId }, 'agent');
        log = log.child({ agent: agent.agentId });
        // The lease is held at once; the identity write is group-committed. If it fails, the stream ends,
        // unless the store is only unavailable (PostgreSQL down): then the stream is served from memory
        // and the lease is written by the next renewal once the store is back.
        deps.registry.agentConnected(agent).catch((err: unknown) => {
          if (err instanceof UnavailableError) {
            log.warn('store unavailable; serving the stream from memory', { err: err.message });
            return;
          }
          log.error('cannot record connected agent', { err });
          endWith(toGrpcError(err), 'cannot record agent');
        });
        const stream = new DiscoveryStream({
          streamId,
          agentId: agent.agentId,
          source: deps.registry,
          send: (response) => {
            if (!done) call.write(response);
          },
          logger: log,
          rejections: deps.rejections.forAgent(agent.agentId),
          observer: deps.observer,
          policies: deps.policies,
          settings: deps.settings,
          trust: deps.trust,
          externals: deps.externals,
        });
        const h: StreamHandle = { agentId: agent.agentId, stream, end: (status) => endWith(status, status.details) };
        const previous = deps.streams.add(h);
        log.info('agent connected', { address: agent.address, inboundPort: agent.inboundPort, peer: call.getPeer() });
        previous?.end(streamReplacedError());
        return h;
      };

      call.on('data', (req: DiscoveryRequest__Output) => {
        if (done) return;
        try {
          const first = handle === undefined;
          if (!handle) handle = open(req);
          handle.stream.onRequest(req, first);
        } catch (err) {
          if (isInternal(err)) log.error('discovery request failed', { err });
          else log.info('discovery stream rejected', { err });
          endWith(toGrpcError(err), 'bad request');
        }
      });
      call.on('end', () => {
        if (done) return; // already ended with a status
        finish('agent closed the stream');
        call.end();
      });
      call.on('cancelled', () => finish('cancelled'));
      call.on('error', () => finish('error'));
      call.on('close', () => finish('closed'));
    },
  };
}
