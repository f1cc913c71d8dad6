// The `orchestrate:deploy-notebook` command ("Deploy notebook…"), bound to the notebook
// toolbar button and the file browser's context menu by schema/plugin.json. Placeholder:
// the deployments engineer replaces `execute` with the dialog. Resolving the path is done
// here already: from the notebook whose toolbar was clicked, or from the file browser's
// selection only when the context menu called it (`args.from === 'filebrowser'`).
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';

import { orchestrateIcon } from '../icons';
import { localPath } from '../paths';
import { CommandIDs, IOrchestrate, PLUGIN_PREFIX } from '../tokens';

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

export const deployCommandPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_PREFIX}:deploy-command`,
  description: 'The "Deploy notebook…" command.',
  autoStart: true,
  requires: [IOrchestrate],
  optional: [INotebookTracker, IDefaultFileBrowser],
  activate: (
    app: JupyterFrontEnd,
    _orchestrate: IOrchestrate,
    tracker: INotebookTracker | null,
    browser: IDefaultFileBrowser | null
  ) => {
    app.commands.addCommand(CommandIDs.deployNotebook, {
      label: 'Deploy notebook…',
      caption: 'Deploy this notebook as a scheduled run',
      icon: orchestrateIcon,
      execute: async args => {
        const path = notebookPathFor(args, tracker, browser);
        if (!path) {
          await showDialog({
            title: 'Deploy notebook',
            body: 'Open or select a notebook to deploy.',
            buttons: [Dialog.okButton()]
          });
          return;
        }
        await showDialog({
          title: 'Deploy notebook',
          body: `From a terminal: orchestrate-nb deploy ${path} --name NAME --cron "0 7 * * *"`,
          buttons: [Dialog.okButton()]
        });
      }
    });
  }
};
