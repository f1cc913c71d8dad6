// The left-panel "Orchestrate" sidebar: four tabs (Runs, Deployments, Approvals, Alerts), each a
// component from its own folder. The panel fetches nothing until it is shown.
import { ILabShell, ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';
import React, { useEffect, useState } from 'react';

import { AlertsTab } from './alerts/AlertsTab';
import { ApprovalsTab } from './approvals/ApprovalsTab';
import { DeploymentsTab } from './deployments/DeploymentsTab';
import { orchestrateIcon } from './icons';
import { RunsTab } from './runs/RunsTab';
import { CommandIDs, IOrchestrate, ITabProps, PLUGIN_PREFIX } from './tokens';

export const SIDEBAR_ID = 'orchestrate-nb-sidebar';

export type TabName = 'runs' | 'deployments' | 'approvals' | 'alerts';

const TABS: Array<{ name: TabName; label: string; Component: React.FC<ITabProps> }> = [
  { name: 'runs', label: 'Runs', Component: RunsTab },
  { name: 'deployments', label: 'Deployments', Component: DeploymentsTab },
  { name: 'approvals', label: 'Approvals', Component: ApprovalsTab },
  { name: 'alerts', label: 'Alerts', Component: AlertsTab }
];

const tabRequested = new Signal<object, TabName>({});
let pendingTab: TabName | null = null;

/** Switches the sidebar to `name` (also when it has not been shown yet). */
export function showTab(name: TabName): void {
  pendingTab = name;
  tabRequested.emit(name);
}

export function OrchestratePanel(props: ITabProps & { initialTab?: TabName }): JSX.Element {
  const [tab, setTab] = useState<TabName>(() => {
    const requested = pendingTab;
    pendingTab = null;
    return requested ?? props.initialTab ?? 'runs';
  });
  useEffect(() => {
    const slot = (_: object, name: TabName) => {
      pendingTab = null;
      setTab(name);
    };
    tabRequested.connect(slot);
    return () => {
      tabRequested.disconnect(slot);
    };
  }, []);
  const active = TABS.find(t => t.name === tab) ?? TABS[0];
  return (
    <div className="onb-panel" data-testid="onb-sidebar">
      <header className="onb-panel__header">
        <h2 className="onb-panel__title">Orchestrate</h2>
      </header>
      <div className="onb-tabs" role="tablist" aria-label="Orchestrate">
        {TABS.map(t => (
          <button
            key={t.name}
            role="tab"
            type="button"
            id={`onb-tab-${t.name}`}
            aria-selected={t.name === tab}
            aria-controls={`onb-tabpanel-${t.name}`}
            className={`onb-tabs__tab${t.name === tab ? ' onb-tabs__tab--active' : ''}`}
            data-testid={`onb-tab-${t.name}`}
            onClick={() => setTab(t.name)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div
        className="onb-tabpanel"
        role="tabpanel"
        id={`onb-tabpanel-${active.name}`}
        aria-labelledby={`onb-tab-${active.name}`}
      >
        <active.Component app={props.app} api={props.api} live={props.live} />
      </div>
    </div>
  );
}

/** The sidebar widget: renders the panel only once it is first shown (no fetch at start). */
export class OrchestrateSidebar extends ReactWidget {
  constructor(private readonly props: ITabProps) {
    super();
    this.id = SIDEBAR_ID;
    this.title.icon = orchestrateIcon;
    this.title.caption = 'Orchestrate: runs, deployments, approvals';
    this.addClass('onb-sidebar');
  }

  protected render(): JSX.Element | null {
    if (!this.isVisible && !this._shown) {
      return null;
    }
    this._shown = true;
    return <OrchestratePanel {...this.props} />;
  }

  protected onAfterShow(msg: Parameters<ReactWidget['onAfterShow']>[0]): void {
    super.onAfterShow(msg);
    if (!this._shown) {
      this.update();
    }
  }

  private _shown = false;
}

export const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  // The id matches schema/plugin.json, which declares the notebook toolbar button and the
  // file browser's context-menu entry.
  id: `${PLUGIN_PREFIX}:plugin`,
  description: 'The Orchestrate sidebar: runs, deployments and approvals.',
  autoStart: true,
  requires: [IOrchestrate],
  optional: [ILayoutRestorer, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    orchestrate: IOrchestrate,
    restorer: ILayoutRestorer | null,
    labShell: ILabShell | null
  ) => {
    const sidebar = new OrchestrateSidebar({ app, api: orchestrate.api, live: orchestrate.live });
    app.shell.add(sidebar, 'left', { rank: 900 });
    restorer?.add(sidebar, 'orchestrate-sidebar');
    app.commands.addCommand(CommandIDs.openSidebar, {
      label: 'Show the Orchestrate Sidebar',
      icon: orchestrateIcon,
      execute: () => {
        if (labShell) {
          labShell.activateById(sidebar.id);
        } else {
          app.shell.activateById(sidebar.id);
        }
      }
    });
  }
};
