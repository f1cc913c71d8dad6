// Runs tab (placeholder list: the runs engineer replaces it with the full live list).
import React, { useEffect, useState } from 'react';

import { ApiError, RunSummary } from '../api';
import { useChanges } from '../live';
import { ITabProps } from '../tokens';

export function RunsTab(props: ITabProps): JSX.Element {
  const tick = useChanges(props.live);
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    props.api
      .listRuns({ limit: 50 })
      .then(page => {
        if (!cancelled) {
          setRuns(page.runs);
          setError(null);
        }
      })
      .catch((reason: ApiError) => !cancelled && setError(reason.message));
    return () => {
      cancelled = true;
    };
  }, [tick, props.api]);
  if (error) {
    return <p className="onb-error" data-testid="onb-runs-error">{error}</p>;
  }
  if (runs === null) {
    return <p className="onb-muted">Loading runs…</p>;
  }
  if (!runs.length) {
    return <p className="onb-muted" data-testid="onb-runs-empty">No flow runs yet.</p>;
  }
  return (
    <ul className="onb-list" data-testid="onb-runs-list">
      {runs.map(run => (
        <li key={run.id} className="onb-list__item" data-testid="onb-run-row">
          <span className="onb-chip" data-state-type={run.state_type}>
            {run.state_name}
          </span>
          <span className="onb-list__main">{run.flow_name}</span>
          <span className="onb-muted">{run.name}</span>
        </li>
      ))}
    </ul>
  );
}
