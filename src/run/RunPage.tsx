// A run's page in the main area: header (state, timing, actions), its graph (the inline
// widget's view), the state timeline, parameters, task runs and the followed logs.
import { JupyterFrontEnd } from '@jupyterlab/application';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import React, { useEffect, useState } from 'react';

import { ApiClient, ApiError, Meta, RunDetail, StateRecord, TaskRun } from '../api';
import { ApprovalCard } from '../approvals/ApprovalCard';
import { LiveChanges, useChanges } from '../live';
import { formatSeconds, fullTime, isFinal, runSeconds, shortTime } from '../runs/format';
import { StateChip } from '../runs/RunsTab';
import { Artifacts } from './Artifacts';
import { OPEN_RUN } from './commands';
import { LogView } from './LogView';
import { RunGraph } from './RunGraph';

const TASK_ROWS = 300;

let metaPromise: Promise<Meta> | null = null;
/** The graph's state table and node box, asked once per page load. */
function loadMeta(api: ApiClient): Promise<Meta> {
  if (!metaPromise) {
    metaPromise = api.meta().catch(error => {
      metaPromise = null;
      throw error;
    });
  }
  return metaPromise;
}

export interface IRunPageProps {
  app: JupyterFrontEnd;
  api: ApiClient;
  live: LiveChanges;
  runId: string;
  onLoaded?: (detail: RunDetail) => void;
  rendermime?: IRenderMimeRegistry | null;
}

function Fact(props: { label: string; children: React.ReactNode; title?: string; testId?: string }): JSX.Element {
  return (
    <div className="onb-fact" title={props.title}>
      <dt>{props.label}</dt>
      <dd data-testid={props.testId}>{props.children}</dd>
    </div>
  );
}

function Timeline(props: { states: StateRecord[]; now: number }): JSX.Element {
  const states = props.states.filter(s => s.task_run_id === null);
  if (!states.length) {
    return <p className="onb-muted">No states recorded.</p>;
  }
  const times = states.map(s => Date.parse(s.timestamp));
  const last = states[states.length - 1];
  const end = isFinal(last.type) ? times[times.length - 1] : Math.max(props.now, times[times.length - 1]);
  const total = Math.max(1, end - times[0]);
  return (
    <div className="onb-timeline" data-testid="onb-run-timeline">
      <div className="onb-timeline__bar" aria-hidden="true">
        {states.map((s, i) => {
          const until = i + 1 < states.length ? times[i + 1] : end;
          const share = ((until - times[i]) / total) * 100;
          return (
            <span
              key={i}
              className="onb-timeline__segment"
              data-state-type={s.type}
              style={{ flexGrow: Math.max(share, 0.5) }}
              title={`${s.name} · ${formatSeconds((until - times[i]) / 1000)}`}
            />
          );
        })}
      </div>
      <ol className="onb-timeline__list">
        {states.map((s, i) => (
          <li key={i} className="onb-timeline__item" data-testid="onb-timeline-item">
            <time className="onb-timeline__time" title={fullTime(s.timestamp)}>
              {shortTime(s.timestamp)}
            </time>
            <StateChip stateType={s.type} name={s.name} />
            <span className="onb-timeline__offset onb-muted">
              {i ? `+${formatSeconds((times[i] - times[0]) / 1000)}` : ''}
            </span>
            {s.message && <span className="onb-timeline__message">{s.message}</span>}
          </li>
        ))}
      </ol>
    </div>
  );
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

function Parameters(props: { parameters: Record<string, unknown> }): JSX.Element {
  const entries = Object.entries(props.parameters ?? {});
  if (!entries.length) {
    return <p className="onb-muted">No parameters.</p>;
  }
  return (
    <table className="onb-table onb-params" data-testid="onb-run-parameters">
      <tbody>
        {entries.map(([name, value]) => (
          <tr key={name}>
            <th scope="row">{name}</th>
            <td className="onb-mono">{formatValue(value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function TaskRuns(props: { tasks: TaskRun[]; total: number; now: number }): JSX.Element {
  const [all, setAll] = useState(false);
  if (!props.tasks.length) {
    return <p className="onb-muted">No task runs.</p>;
  }
  const shown = all ? props.tasks : props.tasks.slice(0, TASK_ROWS);
  return (
    <>
      <table className="onb-table onb-tasks" data-testid="onb-run-tasks">
        <thead>
          <tr>
            <th>Task run</th>
            <th>State</th>
            <th>Started</th>
            <th className="onb-num">Duration</th>
            <th className="onb-num">Tries</th>
          </tr>
        </thead>
        <tbody>
          {shown.map(task => (
            <tr key={task.id} data-testid="onb-task-row" title={task.state_message ?? ''}>
              <td className="onb-tasks__name">{task.name}</td>
              <td>
                <StateChip stateType={task.state_type} name={task.state_name} />
              </td>
              <td title={fullTime(task.start_time)}>{shortTime(task.start_time)}</td>
              <td className="onb-num">{formatSeconds(runSeconds(task, props.now))}</td>
              <td className="onb-num">{task.run_count}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {(shown.length < props.tasks.length || props.total > props.tasks.length) && (
        <p className="onb-muted">
          {shown.length.toLocaleString()} of {props.total.toLocaleString()} task runs shown.{' '}
          {shown.length < props.tasks.length && (
            <button type="button" className="onb-link-button" onClick={() => setAll(true)}>
              Show {props.tasks.length.toLocaleString()}
            </button>
          )}
        </p>
      )}
    </>
  );
}

export function RunPage(props: IRunPageProps): JSX.Element {
  const { api, app, runId } = props;
  const tick = useChanges(props.live);
  const [detail, setDetail] = useState<RunDetail | null>(null);
  const [meta, setMeta] = useState<Meta | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  const final = detail ? isFinal(detail.run.state_type) : false;

  useEffect(() => {
    loadMeta(api)
      .then(setMeta)
      .catch((reason: ApiError) => setError(reason.message));
  }, [api]);

  useEffect(() => {
    if (final) {
      return; // a finished run does not change
    }
    let cancelled = false;
    api
      .getRun(runId)
      .then(found => {
        if (!cancelled) {
          setDetail(found);
          setError(null);
          props.onLoaded?.(found);
        }
      })
      .catch((reason: ApiError) => !cancelled && setError(reason.message));
    return () => {
      cancelled = true;
    };
  }, [api, runId, tick, final]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (final) {
      return;
    }
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [final]);

  if (!detail) {
    return (
      <div className="onb-run" data-testid="onb-run-page">
        {error ? (
          <p className="onb-error" data-testid="onb-run-error">
            {error}
          </p>
        ) : (
          <p className="onb-muted">Loading run…</p>
        )}
      </div>
    );
  }

  const run = detail.run;
  const act = async (name: string, action: () => Promise<void>) => {
    setBusy(name);
    try {
      await action();
    } catch (reason) {
      Notification.error((reason as ApiError).message, { autoClose: 8000 });
    } finally {
      setBusy(null);
    }
  };
  const openNotebook = () =>
    act('notebook', async () => {
      const { path } = await api.openNotebook(run.id);
      await app.commands.execute('docmanager:open', { path });
    });
  const rerun = () =>
    act('rerun', async () => {
      const { run: created } = await api.rerun(run.id);
      Notification.success(`Started ${created.name}, a new run of ${run.deployment_name} with these parameters.`, {
        autoClose: 5000
      });
      await app.commands.execute(OPEN_RUN, { id: created.id });
    });
  const cancel = () =>
    act('cancel', async () => {
      const answer = await showDialog({
        title: 'Cancel this run?',
        body: `${run.flow_name} · ${run.name} will stop and end Cancelled.`,
        buttons: [Dialog.cancelButton({ label: 'Keep running' }), Dialog.warnButton({ label: 'Cancel run' })]
      });
      if (answer.button.accept) {
        await api.cancelRun(run.id);
        void props.live.refresh();
      }
    });

  // A run a kernel or script started (no deployment) is stopped where it runs (the server
  // says so with a 409): only a worker's, a scheduled or a paused run is offered Cancel.
  const cancellable =
    !final &&
    run.state_type !== 'CANCELLING' &&
    (run.deployment_id !== null || run.state_type === 'SCHEDULED' || run.state_type === 'PAUSED');
  const seconds = runSeconds(run, now);
  const counts = Object.entries(run.task_runs ?? {})
    .map(([state, n]) => `${n} ${state.toLowerCase()}`)
    .join(' · ');
  return (
    <div className="onb-run" data-testid="onb-run-page" data-run-id={run.id} data-state-type={run.state_type}>
      <header className="onb-run__header">
        <div className="onb-run__title">
          <h1>{run.flow_name}</h1>
          <span className="onb-run__name">{run.name}</span>
          <span data-testid="onb-run-state">
            <StateChip stateType={run.state_type} name={run.state_name} />
          </span>
        </div>
        <div className="onb-run__actions">
          {run.executed_notebook && (
            <button
              type="button"
              className="onb-button"
              data-testid="onb-run-open-notebook"
              disabled={busy !== null}
              onClick={() => void openNotebook()}
            >
              Open executed notebook
            </button>
          )}
          {run.deployment_id && (
            <button
              type="button"
              className="onb-button"
              data-testid="onb-run-rerun"
              disabled={busy !== null}
              onClick={() => void rerun()}
              title={`A new run of ${run.deployment_name} with this run's parameters`}
            >
              Run again with these parameters
            </button>
          )}
          {cancellable && (
            <button
              type="button"
              className="onb-button onb-button--danger"
              data-testid="onb-run-cancel"
              disabled={busy !== null}
              onClick={() => void cancel()}
            >
              Cancel
            </button>
          )}
        </div>
      </header>
      {run.state_message && (
        <p className={`onb-run__message${run.state_type === 'FAILED' || run.state_type === 'CRASHED' ? ' onb-error' : ''}`}>
          {run.state_message}
        </p>
      )}
      {error && <p className="onb-error">{error}</p>}
      <dl className="onb-facts">
        <Fact label="Started" title={fullTime(run.start_time)}>
          {shortTime(run.start_time) || (run.scheduled_time ? `scheduled ${shortTime(run.scheduled_time)}` : '—')}
        </Fact>
        <Fact label="Ended" title={fullTime(run.end_time)}>
          {shortTime(run.end_time) || '—'}
        </Fact>
        <Fact label="Duration" testId="onb-run-duration">
          {formatSeconds(seconds) || '—'}
        </Fact>
        <Fact label="Deployment">{run.deployment_name ?? (run.kind === 'session' ? 'notebook session' : '—')}</Fact>
        <Fact label="Task runs">{counts || '—'}</Fact>
        {run.tags.length > 0 && <Fact label="Tags">{run.tags.join(', ')}</Fact>}
      </dl>
      {run.pause && run.state_type === 'PAUSED' && (
        <section className="onb-run__section">
          <h2>Awaiting approval</h2>
          <ApprovalCard api={api} run={run} pause={run.pause} onDone={() => void props.live.refresh()} />
        </section>
      )}
      <section className="onb-run__section">
        <h2>Graph</h2>
        {detail.graph?.nodes?.length ? (
          <RunGraph graph={detail.graph} meta={meta} />
        ) : (
          <p className="onb-muted" data-testid="onb-run-graph-empty">
            {final ? 'No task runs to draw.' : 'No task runs yet: the graph appears with the first one.'}
          </p>
        )}
      </section>
      <div className="onb-run__columns">
        <section className="onb-run__section">
          <h2>Task runs</h2>
          <TaskRuns tasks={detail.task_runs} total={(detail as { task_runs_total?: number }).task_runs_total ?? detail.task_runs.length} now={now} />
        </section>
        <div>
          <section className="onb-run__section">
            <h2>State timeline</h2>
            <Timeline states={detail.states} now={now} />
          </section>
          <section className="onb-run__section">
            <h2>Parameters</h2>
            <Parameters parameters={run.parameters} />
          </section>
        </div>
      </div>
      {(detail.artifacts?.length ?? 0) > 0 && (
        <section className="onb-run__section">
          <h2>Artifacts</h2>
          <Artifacts artifacts={detail.artifacts ?? []} rendermime={props.rendermime ?? null} />
        </section>
      )}
      <section className="onb-run__section">
        <h2>Logs</h2>
        <LogView api={api} runId={run.id} tick={tick} runFinal={final} />
      </section>
    </div>
  );
}
