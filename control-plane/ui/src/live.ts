/**
 * The live context every view reads: a counter per topic that the shell bumps
 * when /v1/events names it, and the hook that (re-)fetches a path whenever a
 * topic it depends on moves.
 */
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { AuthError, getJson, MissingEndpointError } from './api.js';
import type { Topic } from './events.js';

export type Ticks = Record<Topic, number>;

export interface Live {
  ticks: Ticks;
  /** A read was refused for want of a token: the shell shows the login form. */
  onAuthError(): void;
}

export const LiveContext = createContext<Live>({ ticks: { services: 0, agents: 0, config: 0, stats: 0 }, onAuthError: () => {} });

export interface Resource<T> {
  data?: T;
  error?: string;
  /** The endpoint does not exist on this control plane (yet). */
  missing: boolean;
  loading: boolean;
}

export function useResource<T>(path: string | null, topics: readonly Topic[]): Resource<T> {
  const live = useContext(LiveContext);
  const [state, setState] = useState<Resource<T>>({ missing: false, loading: true });
  const key = topics.map((t) => live.ticks[t]).join(',');
  useEffect(() => {
    if (!path) return;
    let cancelled = false;
    getJson<T>(path).then(
      (data) => !cancelled && setState({ data, missing: false, loading: false }),
      (err: unknown) => {
        if (cancelled) return;
        if (err instanceof AuthError) live.onAuthError();
        setState((prev) => ({
          data: err instanceof MissingEndpointError ? undefined : prev.data,
          missing: err instanceof MissingEndpointError,
          error: err instanceof MissingEndpointError ? undefined : (err as Error).message,
          loading: false,
        }));
      },
    );
    return () => {
      cancelled = true;
    };
  }, [path, key]);
  return state;
}
