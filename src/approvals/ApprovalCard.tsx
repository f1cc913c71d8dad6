// One run awaiting approval: its message, the input form generated from the JSON schema the
// paused flow stored (FormComponent: react-jsonschema-form styled as JupyterLab), and
// Resume / Reject. The server checks the input; a refusal shows its one line, which names
// the field, and nothing is resumed.
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { FormComponent } from '@jupyterlab/ui-components';
import { ReadonlyJSONObject } from '@lumino/coreutils';
import validatorAjv8 from '@rjsf/validator-ajv8';
import React, { useMemo, useState } from 'react';

import { ApiClient, ApiError, JSONSchema, PauseInfo, RunSummary } from '../api';
import { fullTime, relative } from '../runs/format';

/** The schema as the form shows it: no root title (the card has one). */
function formSchema(schema: JSONSchema): JSONSchema {
  const { title: _title, ...rest } = schema;
  void _title;
  return { type: 'object', ...rest };
}

/** Start values: the schema's defaults, and "no" for a yes/no question without one. */
function initialInput(schema: JSONSchema | null): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  const properties = (schema?.properties ?? {}) as Record<string, JSONSchema>;
  for (const [name, property] of Object.entries(properties)) {
    if (property && 'default' in property) {
      values[name] = property.default;
    } else if (property?.type === 'boolean') {
      values[name] = false;
    }
  }
  return values;
}

/** The pause's message, and the terminal command it names (shown apart, smaller). */
export function splitMessage(message: string | null): { text: string; command: string | null } {
  const text = (message ?? '').trim();
  const at = text.indexOf('; resume with: ');
  if (at < 0) {
    return { text, command: null };
  }
  const head = text.slice(0, at);
  return { text: head.charAt(0).toUpperCase() + head.slice(1) + '.', command: text.slice(at + 15) };
}

export interface IApprovalCardProps {
  api: ApiClient;
  run: RunSummary;
  pause: PauseInfo;
  /** Called after a resume or a reject went through. */
  onDone?: (what: 'resumed' | 'rejected') => void;
  onOpen?: () => void;
}

export function ApprovalCard(props: IApprovalCardProps): JSX.Element {
  const { api, run, pause } = props;
  const schema = pause.input_schema;
  const shown = useMemo(() => (schema ? formSchema(schema) : null), [schema]);
  const [input, setInput] = useState<Record<string, unknown>>(() => initialInput(schema));
  const [busy, setBusy] = useState(false);
  const message = splitMessage(pause.message);
  const [error, setError] = useState<string | null>(null);

  const resume = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.resumeRun(run.id, schema ? input : undefined);
      props.onDone?.('resumed');
    } catch (reason) {
      // The card names the run already: keep the server's line from the field on.
      setError((reason as ApiError).message.replace(/^cannot resume flow run \S+: /, ''));
    } finally {
      setBusy(false);
    }
  };

  const reject = async () => {
    const answer = await showDialog({
      title: 'Reject this run?',
      body: `The flow run ${run.name} (${run.flow_name}) will end Cancelled.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Reject' })]
    });
    if (!answer.button.accept) {
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.cancelRun(run.id);
      props.onDone?.('rejected');
    } catch (reason) {
      setError((reason as ApiError).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="onb-approval" data-testid="onb-approval" data-run-id={run.id}>
      <div className="onb-approval__head">
        <span className="onb-approval__flow">{run.flow_name}</span>
        {props.onOpen ? (
          <button type="button" className="onb-link-button" onClick={props.onOpen} title="Open the run's page">
            {run.name}
          </button>
        ) : (
          <span className="onb-muted">{run.name}</span>
        )}
      </div>
      {message.text && (
        <p className="onb-approval__message" data-testid="onb-approval-message">
          {message.text}
        </p>
      )}
      {pause.expires && (
        <p className="onb-muted onb-approval__expires" title={fullTime(pause.expires)}>
          Times out {relative(pause.expires)}
        </p>
      )}
      {shown && (
        <div className="onb-approval__form" data-testid="onb-approval-form">
          <FormComponent
            schema={shown}
            formData={input as ReadonlyJSONObject}
            // eslint-disable-next-line @typescript-eslint/no-explicit-any
            validator={validatorAjv8 as any}
            onChange={event => setInput((event.formData ?? {}) as Record<string, unknown>)}
            compact={true}
            showModifiedFromDefault={false}
            liveValidate={false}
            noHtml5Validate={true}
            idPrefix={`onb-approval-${run.id.slice(0, 8)}`}
          />
        </div>
      )}
      {error && (
        <p className="onb-error onb-approval__error" role="alert" data-testid="onb-approval-error">
          {error}
        </p>
      )}
      {message.command && (
        <details className="onb-approval__command onb-muted">
          <summary>Resume from a terminal</summary>
          <code className="onb-mono">{message.command}</code>
        </details>
      )}
      <div className="onb-approval__actions">
        <button
          type="button"
          className="onb-button onb-button--primary"
          data-testid="onb-approval-resume"
          disabled={busy}
          onClick={() => void resume()}
        >
          {schema ? 'Resume' : 'Approve'}
        </button>
        <button
          type="button"
          className="onb-button onb-button--danger"
          data-testid="onb-approval-reject"
          disabled={busy}
          onClick={() => void reject()}
        >
          Reject
        </button>
      </div>
    </div>
  );
}
