/**
 * The open discovery streams, one per agent: a newer stream of the same agent
 * replaces the older one. Read by ListAgents and /v1/agents for per-stream state.
 */
import type { DiscoveryStream } from './discovery-stream.js';
import type { GrpcError } from './status.js';

export interface StreamHandle {
  readonly agentId: string;
  readonly stream: DiscoveryStream;
  /** Ends the gRPC call with `status` and releases the stream. */
  end(status: GrpcError): void;
}

export class StreamTable {
  private readonly byAgent = new Map<string, StreamHandle>();

  /** Makes `handle` the agent's current stream; returns the one it replaces. */
  add(handle: StreamHandle): StreamHandle | undefined {
    const previous = this.byAgent.get(handle.agentId);
    this.byAgent.set(handle.agentId, handle);
    return previous === handle ? undefined : previous;
  }

  /** Forgets `handle` if it is still the agent's current stream. */
  remove(handle: StreamHandle): void {
    if (this.byAgent.get(handle.agentId) === handle) this.byAgent.delete(handle.agentId);
  }

  get(agentId: string): StreamHandle | undefined {
    return this.byAgent.get(agentId);
  }

  all(): StreamHandle[] {
    return [...this.byAgent.values()];
  }

  get size(): number {
    return this.byAgent.size;
  }
}
