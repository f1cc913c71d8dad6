// The sidebar's Deployments tab: each deployment as a card with its schedule in words, its
// next run times in the browser's time zone (the zone shown), a pause/resume switch, its
// last runs as state chips (a click opens the run's page), its pool, "Run now…" and
// "Remove" (after a confirmation). Live: refetched whenever the store changes.
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import React, { useCallback, useEffect, useRef, useState } from 'react';

import { ApiClient, ApiError, Deployment, RunSummary } from '../api';
import { useChanges } from '../live';
import { ITabProps } from '../tokens';
import { onFocusRequested, openRun, takePendingFocus } from './focus';
import { browserZone, formatDuration, formatFull, formatRunTime, fromNow, zoneAbbreviation } from './format';
import { runNow } from './RunNowDialog';

/** Re-renders every `ms` (relative times such as "in 5 min" stay true). */
function useClock(ms: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(timer);
  }, [ms]);
  return now;
}

function notifyError(what: string, reason: unknown): void {
  const message = reason instanceof ApiError ? reason.message : String(reason);
  Notification.error(`${what}: ${message}`, { autoClose: 10000 });
}

function RunChip(props: { app: JupyterFrontEnd; run: RunSummary }): JSX.Element {
  const { run } = props;
  const when = run.start_time ?? run.scheduled_time ?? run.created;
  const duration = formatDuration(run.duration_seconds);
  const title = [
    `${run.name}: ${run.state_name}`,
    when ? formatFull(when) : '',
    duration ? `took ${duration}` : '',
    run.state_message ?? '',
    'Click to open the run'
  ]
    .filter(Boolean)
    .join('\n');
  return (
    <button
      type="button"
      className="onb-chip onb-chip--button"
      data-state-type={run.state_type}
      data-testid="onb-deployment-run"
      data-run-id={run.id}
      title={title}
      onClick={() => void openRun(props.app, run.id)}
    >
      {run.state_name}
    </button>
  );
}

function PauseSwitch(props: { deployment: Deployment; api: ApiClient; onChanged: () => void }): JSX.Element {
  const { deployment } = props;
  const [busy, setBusy] = useState(false);
  const active = !deployment.paused;
  const toggle = async () => {
    setBusy(true);
    try {
      if (active) {
        await props.api.pauseDeployment(deployment.name);
      } else {
        await props.api.resumeDeployment(deployment.name);
      }
      props.onChanged();
    } catch (reason) {
      notifyError(`Could not ${active ? 'pause' : 'resume'} ${deployment.name}`, reason);
    } finally {
      setBusy(false);
    }
  };
  return (
    <button
      type="button"
      role="switch"
      aria-checked={active}
      disabled={busy}
      className={`onb-d-switch${active ? ' onb-d-switch--on' : ''}`}
      data-testid="onb-deployment-pause"
      title={active ? 'Active: click to pause its schedule' : 'Paused: click to resume its schedule'}
      onClick={() => void toggle()}
    >
      <span className="onb-d-switch__track" aria-hidden="true">
        <span className="onb-d-switch__thumb" />
      </span>
      <span className="onb-d-switch__label">{active ? 'Active' : 'Paused'}</span>
    </button>
  );
}

function NextRuns(props: {
  deployment: Deployment;
  expanded: boolean;
  now: number;
  onExpand: () => void;
}): JSX.Element {
  const { deployment } = props;
  const now = new Date(props.now);
  if (deployment.paused) {
    return (
      <div className="onb-deployment__next onb-muted" data-testid="onb-deployment-next">
        Paused: no runs are scheduled until it is resumed.
      </div>
    );
  }
  if (!deployment.next_runs.length) {
    return (
      <div className="onb-deployment__next onb-muted" data-testid="onb-deployment-next">
        {deployment.schedule.kind ? 'No upcoming runs.' : 'Runs only when triggered.'}
      </div>
    );
  }
  const zone = browserZone();
  const shown = props.expanded ? deployment.next_runs : deployment.next_runs.slice(0, 1);
  return (
    <div className="onb-deployment__next" data-testid="onb-deployment-next">
      <div className="onb-deployment__label">
        {props.expanded ? `Next ${deployment.next_runs.length} runs` : 'Next run'}{' '}
        <span className="onb-muted" title={`Times in your browser's time zone, ${zone}`} data-testid="onb-zone">
          ({zone === 'UTC' ? 'UTC' : `${zone}, ${zoneAbbreviation(now)}`})
        </span>
      </div>
      <ol className="onb-deployment__times">
        {shown.map((iso, index) => (
          <li key={`${iso}-${index}`} title={formatFull(iso)} data-testid="onb-next-run">
            <span className="onb-deployment__time">{formatRunTime(iso, now)}</span>
            <span className="onb-muted">{fromNow(iso, now)}</span>
          </li>
        ))}
        {!props.expanded && deployment.next_runs.length > 1 ? (
          <li>
            <button type="button" className="onb-d-link" onClick={props.onExpand}>
              {deployment.next_runs.length - 1} more…
            </button>
          </li>
        ) : null}
      </ol>
    </div>
  );
}

function DeploymentCard(props: {
  app: JupyterFrontEnd;
  api: ApiClient;
  deployment: Deployment;
  expanded: boolean;
  highlighted: boolean;
  now: number;
  onToggle: () => void;
  onChanged: () => void;
}): JSX.Element {
  const { deployment, api, app } = props;
  const ref = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (props.highlighted) {
      ref.current?.scrollIntoView({ block: 'nearest' });
    }
  }, [props.highlighted]);

  const remove = async () => {
    const answer = await showDialog({
      title: `Remove ${deployment.name}?`,
      body:
        'Its schedule stops and runs not yet started are dropped. ' +
        'Runs that already ran stay in the history.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Remove' })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await api.removeDeployment(deployment.name);
      Notification.info(`Removed deployment ${deployment.name}.`, { autoClose: 5000 });
      props.onChanged();
    } catch (reason) {
      notifyError(`Could not remove ${deployment.name}`, reason);
    }
  };

  const source = deployment.kind === 'notebook' ? 'notebook' : 'flow';
  const entry = (deployment as Deployment & { lab_path?: string | null }).lab_path ?? deployment.entrypoint;
  const parameters = Object.entries(deployment.parameters ?? {});
  const classes = ['onb-deployment'];
  if (deployment.paused) {
    classes.push('onb-deployment--paused');
  }
  if (props.highlighted) {
    classes.push('onb-deployment--highlighted');
  }
  return (
    <li
      ref={ref}
      className={classes.join(' ')}
      data-testid="onb-deployment-row"
      data-name={deployment.name}
      data-paused={deployment.paused}
    >
      <div className="onb-deployment__head">
        <button
          type="button"
          className="onb-deployment__toggle"
          aria-expanded={props.expanded}
          title={props.expanded ? 'Show less' : 'Show the next five runs and details'}
          onClick={props.onToggle}
        >
          <span className={`onb-d-caret${props.expanded ? ' onb-d-caret--open' : ''}`} aria-hidden="true" />
          <span className="onb-deployment__name" data-testid="onb-deployment-name">
            {deployment.name}
          </span>
        </button>
        {deployment.schedule.kind || deployment.paused ? (
          <PauseSwitch deployment={deployment} api={api} onChanged={props.onChanged} />
        ) : null}
      </div>
      <div className="onb-deployment__schedule" data-testid="onb-deployment-schedule" title={
        deployment.schedule.cron ? `cron ${deployment.schedule.cron} (${deployment.schedule.timezone})` : undefined
      }>
        {deployment.schedule.description || 'no schedule (run on demand)'}
      </div>
      <div className="onb-deployment__meta onb-muted" data-testid="onb-deployment-meta">
        <span title={`Run by workers of pool ${deployment.pool}`}>
          pool <code>{deployment.pool}</code>
        </span>
        {deployment.retries ? <span>· retries {deployment.retries}</span> : null}
        {deployment.cache === 'reuse' ? <span>· reuses cache</span> : null}
        {deployment.kind === 'python' && deployment.flow_name !== deployment.name ? (
          <span>· flow {deployment.flow_name}</span>
        ) : null}
      </div>
      <NextRuns deployment={deployment} expanded={props.expanded} now={props.now} onExpand={props.onToggle} />
      <div className="onb-deployment__runs">
        <span className="onb-deployment__label">Last runs</span>
        {deployment.last_runs.length ? (
          <span className="onb-deployment__chips" data-testid="onb-deployment-runs">
            {deployment.last_runs.map(run => (
              <RunChip key={run.id} app={app} run={run} />
            ))}
          </span>
        ) : (
          <span className="onb-muted">none yet</span>
        )}
      </div>
      {props.expanded ? (
        <dl className="onb-deployment__details" data-testid="onb-deployment-details">
          <dt>{source}</dt>
          <dd title={deployment.entrypoint}>{entry}</dd>
          <dt>cache</dt>
          <dd>{deployment.cache === 'reuse' ? 'reuse cached results' : 'refresh: compute afresh'}</dd>
          {parameters.length ? (
            <>
              <dt>parameters</dt>
              <dd className="onb-deployment__params">
                {parameters.map(([key, value]) => (
                  <code key={key}>
                    {key}={JSON.stringify(value)}
                  </code>
                ))}
              </dd>
            </>
          ) : null}
        </dl>
      ) : null}
      <div className="onb-deployment__actions">
        <button
          type="button"
          className="onb-d-text-button onb-d-text-button--danger"
          data-testid="onb-deployment-remove"
          title={`Remove the deployment ${deployment.name}`}
          onClick={() => void remove()}
        >
          Remove
        </button>
        <button
          type="button"
          className="jp-Button jp-mod-styled jp-mod-accept onb-d-button"
          data-testid="onb-deployment-run-now"
          title="Create a run now, with parameters you choose"
          onClick={() =>
            void runNow(app, api, deployment)
              .then(run => run && props.onChanged())
              .catch(reason => notifyError(`Could not run ${deployment.name}`, reason))
          }
        >
          Run now…
        </button>
      </div>
    </li>
  );
}

export function DeploymentsTab(props: ITabProps): JSX.Element {
  const tick = useChanges(props.live);
  const now = useClock(30_000);
  const [deployments, setDeployments] = useState<Deployment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [expanded, setExpanded] = useState<Set<string>>(() => {
    const name = takePendingFocus();
    return new Set(name ? [name] : []);
  });
  const [highlighted, setHighlighted] = useState<string | null>(() => [...expanded][0] ?? null);
  const [reloads, setReloads] = useState(0);
  const reload = useCallback(() => {
    setReloads(n => n + 1);
    void props.live.refresh();
  }, [props.live]);

  useEffect(
    () =>
      onFocusRequested(name => {
        setExpanded(current => new Set([...current, name]));
        setHighlighted(name);
        setReloads(n => n + 1);
      }),
    []
  );
  useEffect(() => {
    if (!highlighted) {
      return;
    }
    const timer = window.setTimeout(() => setHighlighted(null), 4000);
    return () => window.clearTimeout(timer);
  }, [highlighted]);

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
  }, [tick, reloads, props.api]);

  if (error) {
    return (
      <p className="onb-error" data-testid="onb-deployments-error">
        {error}
      </p>
    );
  }
  if (deployments === null) {
    return <p className="onb-muted">Loading deployments…</p>;
  }
  if (!deployments.length) {
    return (
      <div className="onb-deployments-empty" data-testid="onb-deployments-empty">
        <p>No deployments yet.</p>
        <p className="onb-muted">
          A deployment runs a notebook on a schedule, with parameters, on a worker. Open a notebook and
          click <strong>Deploy notebook…</strong> in its toolbar, or run{' '}
          <code>orchestrate-nb deploy NOTEBOOK --name NAME</code>.
        </p>
      </div>
    );
  }
  return (
    <ul className="onb-deployments" data-testid="onb-deployments-list">
      {deployments.map(deployment => (
        <DeploymentCard
          key={deployment.id}
          app={props.app}
          api={props.api}
          deployment={deployment}
          now={now}
          expanded={expanded.has(deployment.name)}
          highlighted={highlighted === deployment.name}
          onToggle={() =>
            setExpanded(current => {
              const next = new Set(current);
              if (next.has(deployment.name)) {
                next.delete(deployment.name);
              } else {
                next.add(deployment.name);
              }
              return next;
            })
          }
          onChanged={reload}
        />
      ))}
    </ul>
  );
}
