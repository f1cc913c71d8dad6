// The status bar item: "2 running · 1 awaiting approval" (GET status, refreshed on each
// change); a click shows the Orchestrate sidebar.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import { ApiClient, Status } from '../api';
import { orchestrateIcon } from '../icons';
import { LiveChanges, useChanges } from '../live';
import { CommandIDs, IOrchestrate, PLUGIN_PREFIX } from '../tokens';

export function statusText(status: Status): string {
  const parts = [`${status.running} running`];
  if (status.awaiting_approval) {
    parts.push(`${status.awaiting_approval} awaiting approval`);
  }
  return parts.join(' · ');
}

function StatusView(props: { api: ApiClient; live: LiveChanges; onClick: () => void }): JSX.Element {
  const tick = useChanges(props.live);
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    props.api
      .status()
      .then(found => {
        if (!cancelled) {
          setStatus(found);
          setError(null);
        }
      })
      .catch(reason => !cancelled && setError(String(reason.message ?? reason)));
    return () => {
      cancelled = true;
    };
  }, [tick, props.api]);
  const text = status ? statusText(status) : error ? 'Orchestrate: unavailable' : 'Orchestrate';
  const title = status
    ? `Orchestrate: ${status.running} running, ${status.awaiting_approval} awaiting approval, ` +
      `${status.scheduled} scheduled. Click to show the runs.`
    : error ?? 'Orchestrate';
  return (
    <button
      type="button"
      className={`onb-status${status && (status.running || status.awaiting_approval) ? ' onb-status--busy' : ''}`}
      data-testid="onb-status"
      title={title}
      onClick={props.onClick}
    >
      <orchestrateIcon.react tag="span" className="onb-status__icon" />
      <span data-testid="onb-status-text">{text}</span>
      {status && status.awaiting_approval > 0 && <span className="onb-status__dot" aria-hidden="true" />}
    </button>
  );
}

export const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_PREFIX}:status`,
  description: 'Runs running and awaiting approval, in the status bar.',
  autoStart: true,
  requires: [IOrchestrate],
  optional: [IStatusBar],
  activate: (app: JupyterFrontEnd, orchestrate: IOrchestrate, statusBar: IStatusBar | null) => {
    if (!statusBar) {
      return;
    }
    const item = ReactWidget.create(
      <StatusView
        api={orchestrate.api}
        live={orchestrate.live}
        onClick={() => void app.commands.execute(CommandIDs.openSidebar)}
      />
    );
    item.addClass('onb-status-item');
    statusBar.registerStatusItem(`${PLUGIN_PREFIX}:status`, { item, align: 'left', rank: 50 });
  }
};
