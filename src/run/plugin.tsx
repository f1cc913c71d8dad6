// The run page as a main-area document: command `orchestrate:open-run` with `{id}` opens
// (or brings forward) a run's page; pages are tracked and come back after a reload.
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';

import { ApiClient, RunDetail } from '../api';
import { orchestrateIcon } from '../icons';
import { LiveChanges } from '../live';
import { IOrchestrate, PLUGIN_PREFIX } from '../tokens';
import { OPEN_RUN } from './commands';
import { RunPage } from './RunPage';

export class RunPageWidget extends ReactWidget {
  constructor(
    readonly runId: string,
    private readonly app: JupyterFrontEnd,
    private readonly api: ApiClient,
    private readonly live: LiveChanges,
    private readonly onLoaded: (detail: RunDetail) => void,
    private readonly rendermime: IRenderMimeRegistry | null = null
  ) {
    super();
    this.addClass('onb-run-widget');
  }

  protected render(): JSX.Element {
    return <RunPage app={this.app} api={this.api} live={this.live} runId={this.runId} onLoaded={this.onLoaded} rendermime={this.rendermime} />;
  }
}

export const runPagePlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_PREFIX}:run-page`,
  description: "A flow run's page: graph, states, task runs, logs, actions.",
  autoStart: true,
  requires: [IOrchestrate],
  optional: [ILayoutRestorer, IRenderMimeRegistry],
  activate: (
    app: JupyterFrontEnd,
    orchestrate: IOrchestrate,
    restorer: ILayoutRestorer | null,
    rendermime: IRenderMimeRegistry | null
  ) => {
    const tracker = new WidgetTracker<MainAreaWidget<RunPageWidget>>({ namespace: 'orchestrate-run' });
    app.commands.addCommand(OPEN_RUN, {
      label: args => (args.id ? `Open Flow Run ${String(args.id).slice(0, 8)}` : 'Open Flow Run'),
      caption: "Open a flow run's page",
      execute: args => {
        const id = String(args.id ?? '').trim();
        if (!id) {
          return;
        }
        const open = tracker.find(widget => widget.content.runId === id);
        if (open) {
          app.shell.activateById(open.id);
          return open;
        }
        let main: MainAreaWidget<RunPageWidget> | null = null;
        const content = new RunPageWidget(id, app, orchestrate.api, orchestrate.live, detail => {
          if (main) {
            main.title.label = `${detail.run.flow_name} · ${detail.run.name}`;
            main.title.caption = `Flow run ${detail.run.name} of ${detail.run.flow_name} (${detail.run.state_name})`;
          }
        }, rendermime);
        main = new MainAreaWidget({ content });
        main.id = `orchestrate-run-${id}`;
        main.title.label = `Run ${id.slice(0, 8)}`;
        main.title.icon = orchestrateIcon;
        main.title.closable = true;
        main.addClass('onb-run-main');
        main.toolbar.hide(); // nothing in it: the page has its own actions
        void tracker.add(main);
        app.shell.add(main, 'main');
        app.shell.activateById(main.id);
        return main;
      }
    });
    // A link to a run (an alert's `…/lab?orchestrate-run=<id>`) opens its page once the
    // layout is restored.
    const linked = new URLSearchParams(window.location.search).get('orchestrate-run');
    if (linked) {
      void app.restored.then(() => app.commands.execute(OPEN_RUN, { id: linked }));
    }
    if (restorer) {
      void restorer.restore(tracker, {
        command: OPEN_RUN,
        args: widget => ({ id: widget.content.runId }),
        name: widget => widget.content.runId
      });
    }
  }
};
