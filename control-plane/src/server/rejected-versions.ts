/**
 * Versions each agent rejected (NACKed), kept per agent across its streams:
 * stream rule 5 says the server never resends a version the agent rejected,
 * and a reconnect must not make it forget. In memory only: after a control-
 * plane restart an agent may get a rejected version once more (and NACK it
 * again), which costs one response, never a loop.
 *
 * Bounded by agents x names they rejected: an entry goes away when the agent
 * accepts a newer version of that name, when the name stops existing, or when
 * the agent is forgotten (lease lapse).
 */

export interface Rejection {
  readonly name: string;
  readonly version: string;
  readonly error: string;
}

/** One agent's view of the memory, handed to its streams. */
export interface AgentRejections {
  get(name: string): Rejection | undefined;
  set(name: string, version: string, error: string): void;
  clear(name: string): void;
}

export class RejectedVersions {
  private readonly byAgent = new Map<string, Map<string, Rejection>>();

  forAgent(agentId: string): AgentRejections {
    return {
      get: (name) => this.byAgent.get(agentId)?.get(name),
      set: (name, version, error) => {
        let m = this.byAgent.get(agentId);
        if (!m) {
          m = new Map();
          this.byAgent.set(agentId, m);
        }
        m.set(name, { name, version, error });
      },
      clear: (name) => {
        const m = this.byAgent.get(agentId);
        if (!m?.delete(name)) return;
        if (m.size === 0) this.byAgent.delete(agentId);
      },
    };
  }

  /** The agent's rejections, sorted by name. */
  ofAgent(agentId: string): Rejection[] {
    return [...(this.byAgent.get(agentId)?.values() ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  forgetAgent(agentId: string): void {
    this.byAgent.delete(agentId);
  }

  /** Number of (agent, name) rejections held. */
  get size(): number {
    let n = 0;
    for (const m of this.byAgent.values()) n += m.size;
    return n;
  }
}
