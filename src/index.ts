// The plugin list. Each feature lives in its own folder or file and exports its plugin(s);
// this file only imports and lists them.
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { deployCommandPlugin } from './deployments/deployCommand';
import { editorContentsPlugin } from './editor';
import { livePlugin } from './live';
import { sidebarPlugin } from './sidebar';

const plugins: JupyterFrontEndPlugin<any>[] = [
  livePlugin,
  sidebarPlugin,
  deployCommandPlugin,
  editorContentsPlugin
];

export default plugins;
