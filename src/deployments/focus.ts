// Links between the deployments' UI and the rest of the sidebar: which deployment the tab
// should bring forward (after "Deploy notebook…"), and opening a run's page.
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Signal } from '@lumino/signaling';

import { showTab } from '../sidebar';
import { CommandIDs } from '../tokens';

export const OPEN_RUN_COMMAND = 'orchestrate:open-run';
export const SHOW_DEPLOYMENT_COMMAND = 'orchestrate:show-deployment';

const focusRequested = new Signal<object, string>({});
let pendingFocus: string | null = null;

/** The deployment to bring forward, once: read by the tab when it mounts. */
export function takePendingFocus(): string | null {
  const name = pendingFocus;
  pendingFocus = null;
  return name;
}

export function onFocusRequested(listener: (name: string) => void): () => void {
  const slot = (_: object, name: string) => {
    pendingFocus = null;
    listener(name);
  };
  focusRequested.connect(slot);
  return () => focusRequested.disconnect(slot);
}

/** Opens the sidebar on its Deployments tab with `name` expanded and highlighted. */
export async function showDeployment(app: JupyterFrontEnd, name: string): Promise<void> {
  pendingFocus = name;
  showTab('deployments');
  await app.commands.execute(CommandIDs.openSidebar);
  focusRequested.emit(name);
}

/** Opens a run's page (or, without the run page's plugin, the sidebar's Runs tab). */
export async function openRun(app: JupyterFrontEnd, id: string): Promise<void> {
  if (app.commands.hasCommand(OPEN_RUN_COMMAND)) {
    await app.commands.execute(OPEN_RUN_COMMAND, { id });
    return;
  }
  showTab('runs');
  await app.commands.execute(CommandIDs.openSidebar);
}
