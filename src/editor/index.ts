// Editor contents for %flow: just before JupyterLab executes a cell with a `%flow` line,
// send the notebook's cells as they are in the editor (unsaved edits included) to the
// kernel over a comm (target `orchestrate_nb.editor`). The kernel handles shell messages in
// order, so they arrive before that cell runs; `%flow run/status/graph` then use them
// instead of the saved file (orchestrate_nb/notebook/editor.py). Only the cells' type,
// source, tags and id are sent: never outputs.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';

import { localPath } from '../paths';
import { PLUGIN_PREFIX } from '../tokens';

export const COMM_TARGET = 'orchestrate_nb.editor';

/** A `%flow` line anywhere in the cell (also after `%load_ext orchestrate_nb`). */
const FLOW_LINE = /^[ \t]*%flow\b/m;

export interface IEditorCell {
  cell_type: string;
  source: string;
  metadata: { tags: string[] };
  id: string;
}

export const editorContentsPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_PREFIX}:editor-contents`,
  description: 'Sends the notebook as edited to the kernel before a %flow cell runs.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => {
    NotebookActions.executionScheduled.connect((_, { notebook, cell }) => {
      if (cell.model.type !== 'code' || !FLOW_LINE.test(cell.model.sharedModel.getSource())) {
        return;
      }
      const panel = tracker.find(widget => widget.content === notebook);
      const kernel = panel?.sessionContext.session?.kernel;
      const model = notebook.model;
      if (!panel || !kernel || !model) {
        return;
      }
      const cells: IEditorCell[] = [];
      for (const each of model.cells) {
        const tags = each.getMetadata('tags');
        cells.push({
          cell_type: each.type,
          source: each.sharedModel.getSource(),
          metadata: { tags: Array.isArray(tags) ? tags.map(String) : [] },
          id: each.id
        });
      }
      try {
        const comm = kernel.createComm(COMM_TARGET);
        // Sent now, synchronously, so it goes out before the cell's execute request.
        comm.open({ path: localPath(panel.context.path), cells } as any).done.catch(() => undefined);
      } catch (error) {
        console.warn('orchestrate-nb: could not send the editor contents to the kernel', error);
      }
    });
  }
};
