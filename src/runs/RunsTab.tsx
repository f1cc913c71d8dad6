// The Runs tab: a live, windowed list of flow runs (or of notebook sessions), with filters
// by state, flow and deployment and a search box. Clicking a run opens its page.
import React, { useCallback, useEffect, useMemo, useState } from 'react';

import { RunSummary } from '../api';
import { useChanges } from '../live';
import { OPEN_RUN } from '../run/commands';
import { ITabProps } from '../tokens';
import { formatSeconds, fullTime, isActive, listedTime, relative, runSeconds, shortTime } from './format';
import { IRunsFilter, useRunsList } from './useRuns';
import { VirtualList } from './VirtualList';

export const ROW_HEIGHT = 46;

const STATE_OPTIONS: Array<[string, string]> = [
  ['', 'All states'],
  ['PENDING,RUNNING,CANCELLING', 'Running'],
  ['SCHEDULED', 'Scheduled'],
  ['PAUSED', 'Paused'],
  ['COMPLETED', 'Completed'],
  ['FAILED,CRASHED', 'Failed or crashed'],
  ['CANCELLED', 'Cancelled']
];

const EMPTY_FILTER: IRunsFilter = { kind: 'runs', state: '', flow: '', deployment: '', q: '' };

/** The value, once it has stopped changing for `ms`. */
function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/** A clock that ticks every second while `on`. */
function useNow(on: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!on) {
      return;
    }
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [on]);
  return now;
}

export function StateChip(props: { stateType: string; name: string }): JSX.Element {
  return (
    <span className="onb-chip" data-state-type={props.stateType} data-testid="onb-state-chip">
      {props.name}
    </span>
  );
}

function taskRunCount(run: RunSummary): number {
  return Object.values(run.task_runs ?? {}).reduce((sum, n) => sum + n, 0);
}

// Memoised: while the list scrolls, only rows coming into view render.
const RunRow = React.memo(function RunRow(props: {
  run: RunSummary;
  now: number;
  onOpen: (run: RunSummary) => void;
}): JSX.Element {
  const { run, now } = props;
  const session = run.kind === 'session';
  const listed = listedTime(run);
  let right: string;
  if (session) {
    const count = taskRunCount(run);
    right = `${count} task run${count === 1 ? '' : 's'}`;
  } else if (run.state_type === 'SCHEDULED') {
    const when = relative(run.scheduled_time, Math.max(now, Date.now()));
    right = when.startsWith('in ') || when === 'now' ? when : `due ${when}`;
  } else {
    right = formatSeconds(runSeconds(run, Math.max(now, Date.now())));
  }
  const second = [run.name, run.deployment_name].filter(Boolean).join(' · ');
  return (
    <div
      className="onb-run-row"
      role="button"
      tabIndex={0}
      data-testid="onb-run-row"
      data-run-id={run.id}
      data-state-type={run.state_type}
      title={run.state_message ? `${run.state_name}: ${run.state_message}` : run.state_name}
      onClick={() => props.onOpen(run)}
      onKeyDown={event => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          props.onOpen(run);
        }
      }}
    >
      <div className="onb-run-row__line">
        <StateChip stateType={session && !run.end_time ? 'SESSION' : run.state_type} name={run.state_name} />
        <span className="onb-run-row__flow" data-testid="onb-run-flow">
          {run.flow_name}
        </span>
        <span
          className={`onb-run-row__duration${isActive(run) && !session ? ' onb-run-row__duration--live' : ''}`}
          data-testid="onb-run-duration"
        >
          {right}
        </span>
      </div>
      <div className="onb-run-row__line onb-run-row__line--second">
        <span className="onb-run-row__name">{second}</span>
        <time className="onb-run-row__time" dateTime={listed ?? undefined} title={fullTime(listed)}>
          {session ? `since ${shortTime(listed)}` : shortTime(listed)}
        </time>
      </div>
    </div>
  );
});

/** Whether a row's text changes with the clock (a duration or "due in"). */
function ticks(run: RunSummary): boolean {
  return run.kind !== 'session' && (isActive(run) || run.state_type === 'SCHEDULED');
}

export function RunsTab(props: ITabProps): JSX.Element {
  const tick = useChanges(props.live);
  const [filter, setFilter] = useState<IRunsFilter>(EMPTY_FILTER);
  const [search, setSearch] = useState('');
  const [flowText, setFlowText] = useState('');
  const q = useDebounced(search, 250);
  const flow = useDebounced(flowText, 400);
  const effective = useMemo(() => ({ ...filter, q, flow }), [filter, q, flow]);
  const list = useRunsList(props.api, effective, tick);
  const [deployments, setDeployments] = useState<string[]>([]);
  const [flows, setFlows] = useState<string[]>([]);
  const anyActive = list.runs.some(run => isActive(run) || run.state_type === 'SCHEDULED');
  const now = useNow(anyActive);

  const loadDeployments = useCallback(() => {
    props.api
      .listDeployments()
      .then(found => setDeployments(found.map(d => d.name).sort()))
      .catch(() => undefined); // the filter then offers none; the list shows the error
  }, [props.api]);
  useEffect(loadDeployments, [loadDeployments]);

  // Flow names seen so far (the API filters on an exact name): the flow box suggests them.
  useEffect(() => {
    setFlows(known => {
      const names = new Set(known);
      list.runs.forEach(run => names.add(run.flow_name));
      return names.size === known.length ? known : [...names].sort();
    });
  }, [list.runs]);

  const open = useCallback(
    (run: RunSummary) => void props.app.commands.execute(OPEN_RUN, { id: run.id }),
    [props.app]
  );
  const [showFilters, setShowFilters] = useState(false);
  const activeFilters = [filter.state, filter.deployment, flow.trim()].filter(Boolean).length;
  const filtered = !!(activeFilters || q.trim());
  const clear = () => {
    setFilter({ ...EMPTY_FILTER, kind: filter.kind });
    setSearch('');
    setFlowText('');
  };

  let body: React.ReactNode;
  if (list.error && !list.runs.length) {
    body = (
      <p className="onb-error" data-testid="onb-runs-error">
        {list.error}
      </p>
    );
  } else if (list.loading && !list.runs.length) {
    body = <p className="onb-muted onb-runs__note">Loading runs…</p>;
  } else if (!list.runs.length) {
    body = (
      <p className="onb-muted onb-runs__note" data-testid="onb-runs-empty">
        {filtered
          ? 'No runs match these filters.'
          : filter.kind === 'sessions'
            ? 'No notebook sessions yet.'
            : 'No flow runs yet. Call a @flow in a notebook, or deploy one.'}
      </p>
    );
  } else {
    body = (
      <VirtualList
        items={list.runs}
        rowHeight={ROW_HEIGHT}
        rowKey={run => run.id}
        renderRow={run => <RunRow run={run} now={ticks(run) ? now : 0} onOpen={open} />}
        onNearEnd={list.next ? list.loadMore : undefined}
        className="onb-runs__list"
        testId="onb-runs-list"
        role="list"
        ariaLabel={filter.kind === 'sessions' ? 'Notebook sessions' : 'Flow runs'}
        footer={
          <div className="onb-runs__footer">
            {list.next ? (
              <button
                type="button"
                className="onb-link-button"
                data-testid="onb-runs-more"
                disabled={list.loading}
                onClick={list.loadMore}
              >
                {list.loading ? 'Loading…' : 'Load more'}
              </button>
            ) : (
              <span className="onb-muted" data-testid="onb-runs-count">
                {list.runs.length.toLocaleString()} {filter.kind === 'sessions' ? 'session' : 'run'}
                {list.runs.length === 1 ? '' : 's'}
              </span>
            )}
            {list.error && <span className="onb-error"> {list.error}</span>}
          </div>
        }
      />
    );
  }

  return (
    <div className="onb-runs" data-testid="onb-runs">
      <div className="onb-segmented" role="radiogroup" aria-label="Show">
        {(['runs', 'sessions'] as const).map(kind => (
          <button
            key={kind}
            type="button"
            role="radio"
            aria-checked={filter.kind === kind}
            className={`onb-segmented__item${filter.kind === kind ? ' onb-segmented__item--on' : ''}`}
            data-testid={`onb-kind-${kind}`}
            title={kind === 'runs' ? 'Flow runs' : "Notebook kernels' interactive sessions (%%task cells)"}
            onClick={() => setFilter({ ...filter, kind })}
          >
            {kind === 'runs' ? 'Flow runs' : 'Sessions'}
          </button>
        ))}
      </div>
      <div className="onb-runs__filters">
        <div className="onb-runs__searchbar">
          <input
            type="search"
            className="onb-input onb-runs__search"
            placeholder="Search runs"
            title="Search run names, flow names and deployment names"
            aria-label="Search runs"
            data-testid="onb-runs-search"
            value={search}
            onChange={event => setSearch(event.target.value)}
          />
          <button
            type="button"
            className={`onb-button onb-runs__filter-toggle${showFilters ? ' onb-runs__filter-toggle--on' : ''}`}
            aria-expanded={showFilters}
            data-testid="onb-filters-toggle"
            title="Filter by state, flow or deployment"
            onClick={() => setShowFilters(!showFilters)}
          >
            Filters{activeFilters ? ` (${activeFilters})` : ''}
          </button>
        </div>
        {showFilters && (
          <div className="onb-runs__selects" data-testid="onb-filters">
            <label className="onb-field">
              <span>State</span>
              <select
                className="onb-input"
                data-testid="onb-filter-state"
                value={filter.state}
                onChange={event => setFilter({ ...filter, state: event.target.value })}
              >
                {STATE_OPTIONS.map(([value, label]) => (
                  <option key={value} value={value}>
                    {label}
                  </option>
                ))}
              </select>
            </label>
            <label className="onb-field">
              <span>Flow</span>
              <input
                className="onb-input"
                list="onb-flow-names"
                placeholder="Any flow"
                data-testid="onb-filter-flow"
                value={flowText}
                onChange={event => setFlowText(event.target.value)}
              />
            </label>
            <datalist id="onb-flow-names">
              {flows.map(name => (
                <option key={name} value={name} />
              ))}
            </datalist>
            <label className="onb-field">
              <span>Deployment</span>
              <select
                className="onb-input"
                data-testid="onb-filter-deployment"
                value={filter.deployment}
                onFocus={loadDeployments}
                onChange={event => setFilter({ ...filter, deployment: event.target.value })}
              >
                <option value="">Any deployment</option>
                {deployments.map(name => (
                  <option key={name} value={name}>
                    {name}
                  </option>
                ))}
              </select>
            </label>
            {filtered && (
              <button
                type="button"
                className="onb-link-button onb-runs__clear"
                data-testid="onb-filters-clear"
                onClick={clear}
              >
                Clear filters
              </button>
            )}
          </div>
        )}
      </div>
      {body}
    </div>
  );
}
