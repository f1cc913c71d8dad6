// Approvals tab (placeholder list of paused runs: the runs engineer replaces it).
import React, { useEffect, useState } from 'react';

import { ApiError, RunSummary } from '../api';
import { useChanges } from '../live';
import { ITabProps } from '../tokens';

export function ApprovalsTab(props: ITabProps): JSX.Element {
  const tick = useChanges(props.live);
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    props.api
      .listRuns({ state: 'PAUSED', kind: 'all', limit: 50 })
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
    return <p className="onb-error" data-testid="onb-approvals-error">{error}</p>;
  }
  if (runs === null) {
    return <p className="onb-muted">Loading…</p>;
  }
  if (!runs.length) {
    return <p className="onb-muted" data-testid="onb-approvals-empty">No runs are awaiting approval.</p>;
  }
  return (
    <ul className="onb-list" data-testid="onb-approvals-list">
      {runs.map(run => (
        <li key={run.id} className="onb-list__item" data-testid="onb-approval-row">
          <span className="onb-list__main">{run.flow_name}</span>
          <span className="onb-muted">{run.state_message || run.name}</span>
        </li>
      ))}
    </ul>
  );
}
