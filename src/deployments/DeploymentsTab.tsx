// Deployments tab (placeholder list: the deployments engineer replaces it).
import React, { useEffect, useState } from 'react';

import { ApiError, Deployment } from '../api';
import { useChanges } from '../live';
import { ITabProps } from '../tokens';

export function DeploymentsTab(props: ITabProps): JSX.Element {
  const tick = useChanges(props.live);
  const [deployments, setDeployments] = useState<Deployment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    props.api
      .listDeployments()
      .then(list => {
        if (!cancelled) {
          setDeployments(list);
          setError(null);
        }
      })
      .catch((reason: ApiError) => !cancelled && setError(reason.message));
    return () => {
      cancelled = true;
    };
  }, [tick, props.api]);
  if (error) {
    return <p className="onb-error" data-testid="onb-deployments-error">{error}</p>;
  }
  if (deployments === null) {
    return <p className="onb-muted">Loading deployments…</p>;
  }
  if (!deployments.length) {
    return <p className="onb-muted" data-testid="onb-deployments-empty">No deployments yet.</p>;
  }
  return (
    <ul className="onb-list" data-testid="onb-deployments-list">
      {deployments.map(deployment => (
        <li key={deployment.id} className="onb-list__item" data-testid="onb-deployment-row">
          <span className="onb-list__main">{deployment.name}</span>
          <span className="onb-muted">
            {deployment.paused ? 'paused' : deployment.schedule.description || 'no schedule'}
          </span>
        </li>
      ))}
    </ul>
  );
}
