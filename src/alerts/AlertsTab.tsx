// The Alerts tab: alerts (events, scope, targets, their newest deliveries as state chips),
// blocks (type, name, fields with secrets masked by the server) and variables (name, value as
// short JSON). Read-only; live through the change subscription.
import React, { useEffect, useState } from 'react';

import { AlertDelivery, AlertInfo, ApiError, BlockInfo, VariableInfo } from '../api';
import { useChanges } from '../live';
import { ITabProps } from '../tokens';

// A delivery's status drawn with the run-state chip colours.
const DELIVERY_STATE: Record<string, string> = {
  sent: 'COMPLETED',
  failed: 'FAILED',
  retrying: 'PAUSED',
  sending: 'RUNNING'
};

/** A value as JSON, cut to `limit` characters. */
export function shortJson(value: unknown, limit = 60): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

function scopeText(alert: AlertInfo): string {
  if (alert.deployment) {
    return `deployment ${alert.deployment}`;
  }
  if (alert.flow) {
    return `flow ${alert.flow}`;
  }
  if (alert.tag) {
    return `tag ${alert.tag}`;
  }
  return 'every run';
}

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : '';
}

function Delivery(props: { delivery: AlertDelivery }): JSX.Element {
  const d = props.delivery;
  return (
    <li className="onb-alerts__delivery" data-testid="onb-alert-delivery">
      <span className="onb-chip" data-state-type={DELIVERY_STATE[d.status] ?? 'SCHEDULED'}>
        {d.status}
      </span>
      <span className="onb-alerts__event">{d.event}</span>
      <span className="onb-muted">→ {d.target}</span>
      <span className="onb-muted onb-alerts__when">{when(d.created)}</span>
      {d.flow_run_id ? <span className="onb-muted">run {d.flow_run_id.slice(0, 8)}</span> : null}
      {d.error ? (
        <div className="onb-alerts__error" title={d.error}>
          {d.error}
        </div>
      ) : null}
    </li>
  );
}

export function AlertsTab(props: ITabProps): JSX.Element {
  const tick = useChanges(props.live);
  const [data, setData] = useState<{
    alerts: AlertInfo[];
    blocks: BlockInfo[];
    variables: VariableInfo[];
  } | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    Promise.all([props.api.listAlerts(), props.api.listBlocks(), props.api.listVariables()])
      .then(([alerts, blocks, variables]) => {
        if (!cancelled) {
          setData({ alerts, blocks, variables });
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
      <p className="onb-error" data-testid="onb-alerts-error">
        {error}
      </p>
    );
  }
  if (data === null) {
    return <p className="onb-muted">Loading…</p>;
  }
  return (
    <div className="onb-alerts" data-testid="onb-alerts">
      <section className="onb-alerts__section">
        <h3 className="onb-alerts__heading">Alerts</h3>
        {data.alerts.length ? null : (
          <p className="onb-muted">
            No alerts. Create one with <code>orchestrate-nb alert create</code>.
          </p>
        )}
        {data.alerts.map(alert => (
          <article key={alert.id} className="onb-alerts__card" data-testid="onb-alert">
            <div className="onb-alerts__title">{alert.name}</div>
            <div className="onb-muted">
              on {alert.events.join(', ') || '—'}
              {alert.no_success_for_seconds
                ? ` · no success for ${Math.round(alert.no_success_for_seconds / 3600)}h`
                : ''}{' '}
              · {scopeText(alert)} · notify {alert.notify.join(', ')}
            </div>
            {alert.deliveries.length ? (
              <ul className="onb-alerts__deliveries">
                {alert.deliveries.map(d => (
                  <Delivery key={d.id} delivery={d} />
                ))}
              </ul>
            ) : (
              <p className="onb-muted">No deliveries yet.</p>
            )}
          </article>
        ))}
      </section>
      <section className="onb-alerts__section">
        <h3 className="onb-alerts__heading">Blocks</h3>
        {data.blocks.length ? null : <p className="onb-muted">No blocks saved.</p>}
        <ul className="onb-alerts__list">
          {data.blocks.map(block => (
            <li key={block.ref} className="onb-alerts__row" data-testid="onb-block">
              <span className="onb-alerts__type">{block.block_type}</span>
              <span className="onb-alerts__name">{block.name}</span>
              <span className="onb-muted onb-alerts__value">
                {Object.entries(block.data)
                  .map(([field, value]) => `${field}: ${shortJson(value, 40)}`)
                  .join(' · ')}
              </span>
            </li>
          ))}
        </ul>
      </section>
      <section className="onb-alerts__section">
        <h3 className="onb-alerts__heading">Variables</h3>
        {data.variables.length ? null : <p className="onb-muted">No variables set.</p>}
        <ul className="onb-alerts__list">
          {data.variables.map(variable => (
            <li key={variable.name} className="onb-alerts__row" data-testid="onb-variable">
              <span className="onb-alerts__name">{variable.name}</span>
              <code className="onb-alerts__value" title={shortJson(variable.value, 2000)}>
                {shortJson(variable.value)}
              </code>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}
