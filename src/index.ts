// The plugin list. Each feature lives in its own folder or file and exports its plugin(s);
// this file only imports and lists them.
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { deployCommandPlugin } from './deployments/deployCommand';
import { editorContentsPlugin } from './editor';
import { livePlugin } from './live';
import { runPagePlugin } from './run/plugin';
import { sidebarPlugin } from './sidebar';
import { statusPlugin } from './status/StatusItem';

const plugins: JupyterFrontEndPlugin<any>[] = [
  livePlugin,
  sidebarPlugin,
  deployCommandPlugin,
  editorContentsPlugin,
  runPagePlugin,
  statusPlugin
];

export default plugins;
