// "Run now…": a run of a deployment, due now, with parameters from a form generated from the
// deployment's `parameter_schema` and prefilled with its own parameters (else the defaults).
// A value the server refuses keeps the dialog open with its one line; on success a
// notification offers "View run".
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import React, { useEffect, useMemo, useState } from 'react';

import { ApiClient, ApiError, Deployment, RunSummary } from '../api';
import { FormBody, showFormDialog, Submit } from './FormDialog';
import { changedParameters, FieldValues, fieldsOf, namedParameter, ParameterForm } from './ParameterForm';
import { openRun } from './focus';

function RunNowForm(props: {
  api: ApiClient;
  deployment: Deployment;
  register: (submit: Submit<RunSummary>) => void;
}): JSX.Element {
  const { deployment } = props;
  const fields = useMemo(
    () => fieldsOf(deployment.parameter_schema, deployment.parameters),
    [deployment]
  );
  const [values, setValues] = useState<FieldValues>({});
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    props.register(async () => {
      try {
        return await props.api.runDeployment(deployment.name, changedParameters(fields, values));
      } catch (reason) {
        setError(reason instanceof ApiError ? reason.message : String(reason));
        return undefined;
      }
    });
  });

  const unknownSchema = !deployment.parameter_schema;
  return (
    <form className="onb-d-form" data-testid="onb-run-now-form" onSubmit={event => event.preventDefault()}>
      <p className="onb-d-form__intro">
        A run of <strong>{deployment.name}</strong> due now, for a worker of pool{' '}
        <code>{deployment.pool}</code>.
      </p>
      {unknownSchema ? (
        <p className="onb-muted" data-testid="onb-params-unknown">
          {deployment.kind === 'notebook'
            ? `The notebook's parameters could not be read (is it still at ${deployment.entrypoint}?): the run takes the deployment's parameters.`
            : "This flow's parameters are not known without running its code: the run takes the deployment's parameters."}
        </p>
      ) : (
        <ParameterForm
          idPrefix="onb-run-now"
          fields={fields}
          values={values}
          invalid={namedParameter(error)}
          empty="This notebook declares no parameters (no cell tagged “parameters”)."
          onChange={(name, value) => {
            setValues(current => ({ ...current, [name]: value }));
            setError(null);
          }}
        />
      )}
      {error ? (
        <p className="onb-d-form__error" role="alert" data-testid="onb-form-error">
          {error}
        </p>
      ) : null}
    </form>
  );
}

/** Asks for parameters and creates the run; the run, or null if cancelled. */
export async function runNow(app: JupyterFrontEnd, api: ApiClient, deployment: Deployment): Promise<RunSummary | null> {
  const body = new FormBody<RunSummary>(register => (
    <RunNowForm api={api} deployment={deployment} register={register} />
  ));
  const run = await showFormDialog({
    title: `Run ${deployment.name} now`,
    body,
    acceptLabel: 'Run',
    className: 'onb-run-now-dialog'
  });
  if (run) {
    Notification.success(`Run ${run.name} of ${deployment.name} created: a worker of pool ${deployment.pool} will start it.`, {
      autoClose: 8000,
      actions: [{ label: 'View run', callback: () => void openRun(app, run.id) }]
    });
  }
  return run;
}
