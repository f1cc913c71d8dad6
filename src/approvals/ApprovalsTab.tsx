// The Approvals tab: every run paused for approval (or input), each as a card with the
// input form its flow asked for, Resume and Reject. Live: a new pause shows within a second.
import { Notification } from '@jupyterlab/apputils';
import React, { useEffect, useState } from 'react';

import { ApiError, RunDetail } from '../api';
import { useChanges } from '../live';
import { OPEN_RUN } from '../run/commands';
import { ITabProps } from '../tokens';
import { ApprovalCard } from './ApprovalCard';

export function ApprovalsTab(props: ITabProps): JSX.Element {
  const tick = useChanges(props.live);
  const [runs, setRuns] = useState<RunDetail[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    const load = async () => {
      const page = await props.api.listRuns({ state: 'PAUSED', kind: 'all', limit: 100 });
      // The pause (message, input schema) is on each run's own record.
      const details = await Promise.all(
        page.runs.map(run => props.api.getRun(run.id).catch(() => null))
      );
      return details.filter((d): d is RunDetail => d !== null && d.run.pause !== null);
    };
    load()
      .then(found => {
        if (!cancelled) {
          setRuns(found);
          setError(null);
        }
      })
      .catch((reason: ApiError) => !cancelled && setError(reason.message));
    return () => {
      cancelled = true;
    };
  }, [tick, props.api]);

  if (error) {
    return (
      <p className="onb-error" data-testid="onb-approvals-error">
        {error}
      </p>
    );
  }
  if (runs === null) {
    return <p className="onb-muted">Loading…</p>;
  }
  if (!runs.length) {
    return (
      <p className="onb-muted onb-runs__note" data-testid="onb-approvals-empty">
        No runs are awaiting approval. A flow that calls <code>pause_flow_run()</code> waits here for you.
      </p>
    );
  }
  return (
    <div className="onb-approvals" data-testid="onb-approvals-list">
      {runs.map(detail => (
        <ApprovalCard
          key={detail.run.id}
          api={props.api}
          run={detail.run}
          pause={detail.run.pause!}
          onOpen={() => void props.app.commands.execute(OPEN_RUN, { id: detail.run.id })}
          onDone={what => {
            Notification.success(`${detail.run.flow_name} · ${detail.run.name} ${what}.`, { autoClose: 4000 });
            setRuns(current => (current ?? []).filter(item => item.run.id !== detail.run.id));
            void props.live.refresh();
          }}
        />
      ))}
    </div>
  );
}
