// What every Orchestrate plugin shares: one API client and one change subscription per app.
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Token } from '@lumino/coreutils';

import type { ApiClient } from './api';
import type { LiveChanges } from './live';

export const PLUGIN_PREFIX = 'orchestrate-nb';

export interface IOrchestrate {
  /** The REST client (docs/server-api.md). */
  readonly api: ApiClient;
  /** Tells subscribers when anything the sidebar shows has changed. */
  readonly live: LiveChanges;
}

export const IOrchestrate = new Token<IOrchestrate>(
  'orchestrate-nb:IOrchestrate',
  'The Orchestrate API client and its change subscription.'
);

/** What each sidebar tab is given. */
export interface ITabProps {
  app: JupyterFrontEnd;
  api: ApiClient;
  live: LiveChanges;
}

export const CommandIDs = {
  openSidebar: 'orchestrate:open-sidebar',
  deployNotebook: 'orchestrate:deploy-notebook'
} as const;
