// The `orchestrate:deploy-notebook` command ("Deploy notebook…"), bound to the notebook
// toolbar button and the file browser's context menu by schema/plugin.json: it opens the
// deploy dialog on the notebook whose toolbar was clicked (the tracker's current widget),
// or on the file browser's selection only when the context menu called it
// (`args.from === 'filebrowser'`); a deployment made opens the sidebar's Deployments tab on
// it (`orchestrate:show-deployment` with `{name}`).
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { orchestrateIcon } from '../icons';
import { localPath } from '../paths';
import { CommandIDs, IOrchestrate, PLUGIN_PREFIX } from '../tokens';
import { showDeployDialog } from './DeployDialog';
import { SHOW_DEPLOYMENT_COMMAND, showDeployment } from './focus';

export function notebookPathFor(
  args: { from?: unknown; path?: unknown },
  tracker: INotebookTracker | null,
  browser: IDefaultFileBrowser | null
): string | null {
  if (typeof args.path === 'string' && args.path) {
    return localPath(args.path);
  }
  if (args.from === 'filebrowser') {
    const first = browser?.selectedItems().next();
    return first && !first.done && first.value.path ? localPath(first.value.path) : null;
  }
  const path = tracker?.currentWidget?.context.path;
  return path ? localPath(path) : null;
}

/** The open notebook at `path`, if it is open. */
function openPanel(path: string, tracker: INotebookTracker | null): NotebookPanel | null {
  return tracker?.find(panel => localPath(panel.context.path) === path) ?? null;
}

export const deployCommandPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_PREFIX}:deploy-command`,
  description: 'The "Deploy notebook…" command and the command that shows a deployment.',
  autoStart: true,
  requires: [IOrchestrate],
  optional: [INotebookTracker, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    orchestrate: IOrchestrate,
    tracker: INotebookTracker | null,
    browser: IDefaultFileBrowser | null
  ) => {
    app.commands.addCommand(SHOW_DEPLOYMENT_COMMAND, {
      label: 'Show Deployment in the Orchestrate Sidebar',
      execute: args => showDeployment(app, String(args.name ?? ''))
    });
    app.commands.addCommand(CommandIDs.deployNotebook, {
      label: args => (args.from === 'filebrowser' ? 'Deploy Notebook…' : 'Deploy notebook…'),
      caption: 'Deploy this notebook: run it on a schedule, with parameters, on a worker',
      icon: args => (args.from === 'filebrowser' ? undefined : orchestrateIcon),
      isEnabled: args => notebookPathFor(args, tracker, browser) !== null,
      execute: async args => {
        const path = notebookPathFor(args, tracker, browser);
        if (!path || !path.endsWith('.ipynb')) {
          await showDialog({
            title: 'Deploy notebook',
            body: 'Open or select a notebook (.ipynb) to deploy.',
            buttons: [Dialog.okButton()]
          });
          return;
        }
        const panel = openPanel(path, tracker);
        const deployment = await showDeployDialog(orchestrate.api, {
          path,
          dirty: !!panel?.context.model.dirty,
          save: panel ? () => panel.context.save() : undefined
        });
        if (!deployment) {
          return;
        }
        void orchestrate.live.refresh();
        Notification.success(
          `Deployed ${path} as ${deployment.name}: ${deployment.schedule.description || 'no schedule'}.`,
          { autoClose: 6000 }
        );
        await showDeployment(app, deployment.name);
      }
    });
  }
};
