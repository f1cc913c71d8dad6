// The runs list's data: keyset pages, and a live refresh that keeps what is loaded current
// without refetching it all (10,000 loaded runs cost one or two requests per change).
import { useCallback, useEffect, useRef, useState } from 'react';

import { ApiClient, ApiError, RunQuery, RunSummary } from '../api';
import { isFinal } from './format';

export const PAGE_SIZE = 200;
const HEAD_SIZE = 100;
const ACTIVE_TYPES = ['SCHEDULED', 'PENDING', 'RUNNING', 'PAUSED', 'CANCELLING'];
const MAX_SINGLE_LOOKUPS = 20;

export interface IRunsFilter {
  kind: 'runs' | 'sessions';
  state: string; // '' or comma-separated state types
  flow: string;
  deployment: string;
  q: string;
}

export interface IRunsList {
  runs: RunSummary[];
  next: string | null;
  loading: boolean;
  error: string | null;
  loadMore: () => void;
}

function toQuery(filter: IRunsFilter): RunQuery {
  return {
    kind: filter.kind,
    state: filter.state || undefined,
    flow: filter.flow.trim() || undefined,
    deployment: filter.deployment || undefined,
    q: filter.q.trim() || undefined
  };
}

/** Whether run `a` is listed after (older than) run `b`: newest first on (created, id). */
function olderThan(a: RunSummary, b: RunSummary): boolean {
  const ac = a.created ?? '';
  const bc = b.created ?? '';
  return ac < bc || (ac === bc && a.id < b.id);
}

function activeStates(filter: IRunsFilter): string[] {
  if (!filter.state) {
    return ACTIVE_TYPES;
  }
  const wanted = filter.state.split(',');
  return ACTIVE_TYPES.filter(s => wanted.includes(s));
}

function plusMillisecond(iso: string): string {
  return new Date(Date.parse(iso) + 1).toISOString();
}

export function useRunsList(api: ApiClient, filter: IRunsFilter, tick: number): IRunsList {
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [retry, setRetry] = useState(0);
  // The latest values, for the async work below (which must not act on a stale filter).
  const state = useRef({ runs, next, generation: 0, busy: false, again: false });
  state.current.runs = runs;
  state.current.next = next;
  const filterKey = JSON.stringify(filter);

  const apply = (generation: number, rows: RunSummary[], cursor: string | null) => {
    if (generation !== state.current.generation) {
      return false;
    }
    state.current.runs = rows;
    state.current.next = cursor;
    setRuns(rows);
    setNext(cursor);
    setError(null);
    return true;
  };

  // A new filter: start over from the first page.
  useEffect(() => {
    const generation = ++state.current.generation;
    state.current.busy = true;
    setLoading(true);
    api
      .listRuns({ ...toQuery(filter), limit: PAGE_SIZE })
      .then(page => apply(generation, page.runs, page.next))
      .catch((reason: ApiError) => generation === state.current.generation && setError(reason.message))
      .finally(() => {
        if (generation === state.current.generation) {
          state.current.busy = false;
          setLoading(false);
          if (state.current.again) {
            state.current.again = false;
            setRetry(value => value + 1);
          }
        }
      });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, filterKey]);

  const refresh = useCallback(async () => {
    const generation = state.current.generation;
    const query = toQuery(filter);
    const head = await api.listRuns({ ...query, limit: HEAD_SIZE });
    if (generation !== state.current.generation) {
      return;
    }
    const loaded = state.current.runs;
    let merged: RunSummary[];
    let cursor = state.current.next;
    let tail: RunSummary[] = [];
    if (!head.next) {
      merged = head.runs;
      cursor = null;
    } else {
      const last = head.runs[head.runs.length - 1];
      tail = loaded.filter(run => olderThan(run, last));
      merged = [...head.runs, ...tail];
      if (!tail.length) {
        cursor = head.next;
      }
    }
    // Runs further down that were still going: one request for the active ones, and one
    // small lookup each (a few at most) for those that have finished since.
    const deep = tail.filter(run => !isFinal(run.state_type));
    if (deep.length) {
      const byId = new Map<string, RunSummary | null>();
      const states = activeStates(filter);
      if (states.length) {
        const active = await api.listRuns({ ...query, state: states, limit: 500 });
        active.runs.forEach(run => byId.set(run.id, run));
      }
      const finished = deep.filter(run => !byId.has(run.id) && run.created).slice(0, MAX_SINGLE_LOOKUPS);
      await Promise.all(
        finished.map(async run => {
          const page = await api.listRuns({
            ...query,
            since: run.created!,
            until: plusMillisecond(run.created!),
            limit: 20
          });
          byId.set(run.id, page.runs.find(found => found.id === run.id) ?? null);
        })
      );
      merged = merged
        .map(run => (byId.has(run.id) ? byId.get(run.id) : run))
        .filter((run): run is RunSummary => run !== null && run !== undefined);
    }
    apply(generation, merged, cursor);
  }, [api, filterKey]); // eslint-disable-line react-hooks/exhaustive-deps

  // Something changed on the server: refresh what is shown (one refresh at a time).
  useEffect(() => {
    if (tick === 0 && retry === 0) {
      return;
    }
    const run = async (): Promise<void> => {
      if (state.current.busy) {
        state.current.again = true;
        return;
      }
      state.current.busy = true;
      try {
        do {
          state.current.again = false;
          await refresh();
        } while (state.current.again);
      } catch (reason) {
        setError((reason as ApiError).message);
      } finally {
        state.current.busy = false;
      }
    };
    void run();
  }, [tick, retry, refresh]);

  const loadMore = useCallback(() => {
    const cursor = state.current.next;
    if (!cursor || state.current.busy) {
      return;
    }
    const generation = state.current.generation;
    state.current.busy = true;
    setLoading(true);
    api
      .listRuns({ ...toQuery(filter), limit: PAGE_SIZE, before: cursor })
      .then(page => {
        const seen = new Set(state.current.runs.map(run => run.id));
        apply(generation, [...state.current.runs, ...page.runs.filter(run => !seen.has(run.id))], page.next);
      })
      .catch((reason: ApiError) => generation === state.current.generation && setError(reason.message))
      .finally(() => {
        if (generation === state.current.generation) {
          state.current.busy = false;
          setLoading(false);
          if (state.current.again) {
            state.current.again = false;
            setRetry(value => value + 1);
          }
        }
      });
  }, [api, filterKey]); // eslint-disable-line react-hooks/exhaustive-deps

  return { runs, next, loading, error, loadMore };
}
