// "Deploy notebook…": the form of `orchestrate-nb deploy` in a dialog. Name (defaulted from
// the notebook), schedule (cron with a live preview of its next runs and its description,
// an interval, or none), the parameters cell's parameters, pool, retries and cache policy.
// The server checks everything as the CLI does: a refused value keeps the dialog open with
// the CLI's one line, and nothing is stored.
import React, { useEffect, useMemo, useState } from 'react';

import { ApiClient, ApiError, Deployment, DeploymentRequest, JSONSchema, SchedulePreview } from '../api';
import { FormBody, showFormDialog, Submit } from './FormDialog';
import { browserZone, defaultDeploymentName, formatFull, formatRunTime, intervalWords, zoneAbbreviation } from './format';
import { changedParameters, Field, FieldValues, fieldsOf, namedParameter, ParameterForm } from './ParameterForm';

type ScheduleKind = 'cron' | 'interval' | 'none';

const INTERVAL_UNITS: Array<{ label: string; seconds: number }> = [
  { label: 'minutes', seconds: 60 },
  { label: 'hours', seconds: 3600 },
  { label: 'days', seconds: 86400 }
];

export interface DeployOptions {
  path: string;
  /** The notebook has edits not saved yet (the deployment runs the saved file). */
  dirty?: boolean;
  /** Saves the open notebook. */
  save?: () => Promise<void>;
}

/** Which field a server message is about, to mark it. */
function fieldOfMessage(message: string | null): string | null {
  if (!message) {
    return null;
  }
  const text = message.toLowerCase();
  for (const [field, words] of [
    ['timezone', ['timezone', 'time zone']],
    ['cron', ['cron']],
    ['interval', ['interval']],
    ['name', ['name (--name)', 'deployment needs a name', 'name is required', 'name must']],
    ['pool', ['pool']],
    ['retries', ['retries']]
  ] as Array<[string, string[]]>) {
    if (words.some(word => text.includes(word))) {
      return field;
    }
  }
  return null;
}

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setDebounced(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

function SchedulePreviewBox(props: {
  api: ApiClient;
  request: { cron?: string; interval?: number; timezone?: string } | null;
  /** A message already shown below the form (the preview does not repeat it). */
  shown?: string | null;
}): JSX.Element | null {
  const key = JSON.stringify(props.request);
  const debouncedKey = useDebounced(key, 250);
  const [preview, setPreview] = useState<{ key: string; value?: SchedulePreview; error?: string } | null>(null);
  useEffect(() => {
    const request = JSON.parse(debouncedKey) as { cron?: string; interval?: number; timezone?: string } | null;
    if (!request) {
      setPreview(null);
      return;
    }
    let cancelled = false;
    props.api
      .previewSchedule(request)
      .then(value => !cancelled && setPreview({ key: debouncedKey, value }))
      .catch(
        (reason: unknown) =>
          !cancelled &&
          setPreview({ key: debouncedKey, error: reason instanceof ApiError ? reason.message : String(reason) })
      );
    return () => {
      cancelled = true;
    };
  }, [debouncedKey, props.api]);

  if (!props.request) {
    return null;
  }
  const stale = !preview || preview.key !== key;
  if (preview?.error) {
    if (preview.error === props.shown) {
      return null;
    }
    return (
      <div className={`onb-d-preview onb-d-preview--error${stale ? ' onb-d-preview--stale' : ''}`} data-testid="onb-schedule-preview">
        {preview.error}
      </div>
    );
  }
  if (!preview?.value) {
    return (
      <div className="onb-d-preview onb-muted" data-testid="onb-schedule-preview">
        Checking the schedule…
      </div>
    );
  }
  const zone = browserZone();
  const now = new Date();
  return (
    <div className={`onb-d-preview${stale ? ' onb-d-preview--stale' : ''}`} data-testid="onb-schedule-preview">
      <div className="onb-d-preview__description" data-testid="onb-schedule-description">
        {preview.value.description}
      </div>
      <div className="onb-d-preview__label onb-muted">
        Next runs, in your time zone ({zone === 'UTC' ? 'UTC' : `${zone}, ${zoneAbbreviation(now)}`}):
      </div>
      <ol className="onb-d-preview__times">
        {preview.value.next_runs.map((iso, index) => (
          <li key={`${iso}-${index}`} title={formatFull(iso)} data-testid="onb-preview-run">
            {formatRunTime(iso, now)}
          </li>
        ))}
      </ol>
    </div>
  );
}

function DeployForm(props: {
  api: ApiClient;
  options: DeployOptions;
  register: (submit: Submit<Deployment>) => void;
}): JSX.Element {
  const { api, options } = props;
  const [name, setName] = useState(defaultDeploymentName(options.path));
  const [kind, setKind] = useState<ScheduleKind>('cron');
  const [cron, setCron] = useState('0 7 * * 1-5');
  const [timezone, setTimezone] = useState(browserZone());
  const [every, setEvery] = useState('1');
  const [unit, setUnit] = useState(3600);
  const [pool, setPool] = useState('default');
  const [retries, setRetries] = useState('0');
  const [cache, setCache] = useState<'refresh' | 'reuse'>('refresh');
  const [schema, setSchema] = useState<JSONSchema | null>(null);
  const [paramsError, setParamsError] = useState<string | null>(null);
  const [values, setValues] = useState<FieldValues>({});
  const [error, setError] = useState<string | null>(null);
  const [existing, setExisting] = useState<Set<string>>(new Set());
  const [dirty, setDirty] = useState(!!options.dirty);

  useEffect(() => {
    let cancelled = false;
    api
      .notebookParameters(options.path)
      .then(answer => !cancelled && setSchema(answer.schema))
      .catch((reason: unknown) => !cancelled && setParamsError(reason instanceof ApiError ? reason.message : String(reason)));
    api
      .listDeployments()
      .then(list => !cancelled && setExisting(new Set(list.map(d => d.name))))
      .catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [api, options.path]);

  const fields: Field[] = useMemo(() => fieldsOf(schema), [schema]);
  const intervalSeconds = Number(every) * unit;
  const previewRequest =
    kind === 'cron'
      ? cron.trim()
        ? { cron: cron.trim(), timezone: timezone.trim() || 'UTC' }
        : null
      : kind === 'interval' && Number.isFinite(intervalSeconds) && intervalSeconds > 0
        ? { interval: intervalSeconds, timezone: timezone.trim() || 'UTC' }
        : null;

  const request = (): DeploymentRequest => {
    const body: DeploymentRequest & Record<string, unknown> = {
      path: options.path,
      name: name.trim(),
      pool: pool.trim(),
      cache,
      parameters: changedParameters(fields, values)
    };
    const retriesNumber = Number(retries);
    body.retries = (retries.trim() !== '' && Number.isInteger(retriesNumber) ? retriesNumber : retries) as number;
    if (kind === 'cron') {
      body.cron = cron.trim();
      body.timezone = timezone.trim() || 'UTC';
    } else if (kind === 'interval') {
      body.interval = (Number.isFinite(intervalSeconds) ? intervalSeconds : every) as number;
      body.timezone = timezone.trim() || 'UTC';
    }
    return body;
  };

  useEffect(() => {
    props.register(async () => {
      if (!name.trim()) {
        setError('a deployment needs a name (--name)');
        return undefined;
      }
      try {
        return await api.createDeployment(request());
      } catch (reason) {
        setError(reason instanceof ApiError ? reason.message : String(reason));
        return undefined;
      }
    });
  });

  const marked = fieldOfMessage(error);
  const invalid = (field: string) => (marked === field ? ' onb-d-input--invalid' : '');
  const edit =
    <T,>(set: (value: T) => void) =>
    (value: T) => {
      set(value);
      setError(null);
    };

  return (
    <form className="onb-d-form onb-deploy-form" data-testid="onb-deploy-form" onSubmit={event => event.preventDefault()}>
      <div className="onb-d-form__row">
        <span className="onb-d-form__label">Notebook</span>
        <code className="onb-d-form__path" data-testid="onb-deploy-path" title={options.path}>
          {options.path}
        </code>
      </div>
      {dirty ? (
        <div className="onb-d-form__warning" data-testid="onb-deploy-dirty">
          <span>This notebook has unsaved changes: runs use the saved file.</span>
          {options.save ? (
            <button
              type="button"
              className="onb-d-save"
              data-testid="onb-deploy-save"
              onClick={() =>
                void options.save?.().then(
                  () => setDirty(false),
                  (reason: unknown) => setError(`the notebook could not be saved: ${String(reason)}`)
                )
              }
            >
              Save now
            </button>
          ) : null}
        </div>
      ) : null}
      <div className="onb-d-form__row">
        <label className="onb-d-form__label" htmlFor="onb-deploy-name">
          Name
        </label>
        <div className="onb-d-form__field">
          <input
            id="onb-deploy-name"
            className={`onb-d-input${invalid('name')}`}
            data-testid="onb-deploy-name"
            type="text"
            spellCheck={false}
            value={name}
            onChange={event => edit(setName)(event.target.value)}
          />
          {existing.has(name.trim()) ? (
            <div className="onb-d-form__hint" data-testid="onb-deploy-exists">
              A deployment with this name exists: deploying replaces it.
            </div>
          ) : null}
        </div>
      </div>

      <fieldset className="onb-d-form__group">
        <legend className="onb-d-form__legend">Schedule</legend>
        <div className="onb-d-segmented" role="radiogroup" aria-label="Schedule">
          {(
            [
              ['cron', 'Cron'],
              ['interval', 'Interval'],
              ['none', 'None (on demand)']
            ] as Array<[ScheduleKind, string]>
          ).map(([value, label]) => (
            <label key={value} className={`onb-d-segmented__item${kind === value ? ' onb-d-segmented__item--on' : ''}`}>
              <input
                type="radio"
                name="onb-schedule-kind"
                value={value}
                data-testid={`onb-deploy-schedule-${value}`}
                checked={kind === value}
                onChange={() => edit(setKind)(value)}
              />
              {label}
            </label>
          ))}
        </div>
        {kind === 'cron' ? (
          <div className="onb-d-form__row">
            <label className="onb-d-form__label" htmlFor="onb-deploy-cron">
              Cron
            </label>
            <div className="onb-d-form__field onb-d-form__inline">
              <input
                id="onb-deploy-cron"
                className={`onb-d-input onb-d-input--mono${invalid('cron')}`}
                data-testid="onb-deploy-cron"
                type="text"
                spellCheck={false}
                placeholder="minute hour day month weekday"
                value={cron}
                onChange={event => edit(setCron)(event.target.value)}
              />
            </div>
          </div>
        ) : null}
        {kind === 'interval' ? (
          <div className="onb-d-form__row">
            <label className="onb-d-form__label" htmlFor="onb-deploy-every">
              Every
            </label>
            <div className="onb-d-form__field onb-d-form__inline">
              <input
                id="onb-deploy-every"
                className={`onb-d-input onb-d-input--short${invalid('interval')}`}
                data-testid="onb-deploy-interval"
                type="text"
                inputMode="decimal"
                value={every}
                onChange={event => edit(setEvery)(event.target.value)}
              />
              <select
                className="onb-d-input onb-d-select"
                aria-label="Interval unit"
                data-testid="onb-deploy-interval-unit"
                value={unit}
                onChange={event => edit(setUnit)(Number(event.target.value))}
              >
                {INTERVAL_UNITS.map(u => (
                  <option key={u.seconds} value={u.seconds}>
                    {u.label}
                  </option>
                ))}
              </select>
              {Number.isFinite(intervalSeconds) && intervalSeconds > 0 ? (
                <span className="onb-muted">{intervalWords(intervalSeconds)}</span>
              ) : null}
            </div>
          </div>
        ) : null}
        {kind !== 'none' ? (
          <div className="onb-d-form__row">
            <label className="onb-d-form__label" htmlFor="onb-deploy-timezone">
              Time zone
            </label>
            <div className="onb-d-form__field">
              <input
                id="onb-deploy-timezone"
                className={`onb-d-input${invalid('timezone')}`}
                data-testid="onb-deploy-timezone"
                type="text"
                spellCheck={false}
                value={timezone}
                onChange={event => edit(setTimezone)(event.target.value)}
              />
            </div>
          </div>
        ) : (
          <p className="onb-muted onb-d-form__note">Runs only when triggered (“Run now…” or the CLI).</p>
        )}
        <SchedulePreviewBox api={api} request={previewRequest} shown={error} />
      </fieldset>

      <fieldset className="onb-d-form__group">
        <legend className="onb-d-form__legend">Parameters</legend>
        {paramsError ? (
          <p className="onb-d-form__error">{paramsError}</p>
        ) : schema === null ? (
          <p className="onb-muted">Reading the notebook's parameters cell…</p>
        ) : (
          <ParameterForm
            idPrefix="onb-deploy-param"
            fields={fields}
            values={values}
            invalid={namedParameter(error)}
            empty="This notebook has no cell tagged “parameters”: its runs take none."
            onChange={(param, value) => {
              setValues(current => ({ ...current, [param]: value }));
              setError(null);
            }}
          />
        )}
      </fieldset>

      <fieldset className="onb-d-form__group onb-d-form__group--grid">
        <legend className="onb-d-form__legend">Runs</legend>
        <label className="onb-d-form__label" htmlFor="onb-deploy-pool">
          Pool
        </label>
        <input
          id="onb-deploy-pool"
          className={`onb-d-input${invalid('pool')}`}
          data-testid="onb-deploy-pool"
          type="text"
          spellCheck={false}
          value={pool}
          onChange={event => edit(setPool)(event.target.value)}
        />
        <label className="onb-d-form__label" htmlFor="onb-deploy-retries">
          Retries
        </label>
        <input
          id="onb-deploy-retries"
          className={`onb-d-input onb-d-input--short${invalid('retries')}`}
          data-testid="onb-deploy-retries"
          type="text"
          inputMode="numeric"
          value={retries}
          onChange={event => edit(setRetries)(event.target.value)}
        />
        <label className="onb-d-form__label" htmlFor="onb-deploy-cache">
          Cache
        </label>
        <select
          id="onb-deploy-cache"
          className="onb-d-input onb-d-select"
          data-testid="onb-deploy-cache"
          value={cache}
          onChange={event => edit(setCache)(event.target.value as 'refresh' | 'reuse')}
        >
          <option value="refresh">refresh: compute afresh each run</option>
          <option value="reuse">reuse: read results cached earlier</option>
        </select>
      </fieldset>

      {error ? (
        <p className="onb-d-form__error" role="alert" data-testid="onb-form-error">
          {error}
        </p>
      ) : null}
    </form>
  );
}

/** Shows the dialog; the deployment created, or null if cancelled. */
export function showDeployDialog(api: ApiClient, options: DeployOptions): Promise<Deployment | null> {
  const body = new FormBody<Deployment>(register => <DeployForm api={api} options={options} register={register} />);
  return showFormDialog({ title: 'Deploy notebook', body, acceptLabel: 'Deploy', className: 'onb-deploy-dialog' });
}
