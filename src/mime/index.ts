// The saved run graph, drawn without a kernel: a mime renderer for the final output of
// `%flow run` and of a flow called in a notebook (RUN_GRAPH_MIME, written by
// orchestrate_nb/notebook/graph/html.py). It draws with the inline widget's own view,
// orchestrate_nb/notebook/graph/static/graph.js, bundled here from that file, through a
// small static stand-in for the widget's model. The view builds its DOM with textContent and
// attributes only (never HTML strings), so the factory is safe: it renders in untrusted
// notebooks too. Frontends without this extension show the bundle's HTML/SVG instead.
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Widget } from '@lumino/widgets';

import view, { GraphModelLike } from '../../orchestrate_nb/notebook/graph/static/graph.js';
import '../../orchestrate_nb/notebook/graph/static/graph.css';

export const RUN_GRAPH_MIME = 'application/vnd.orchestrate-nb.run-graph.v1+json';

/** What the widget's view reads from its model: `graph`, `states`, `box`, `selected`. */
export class StaticGraphModel implements GraphModelLike {
  constructor(data: Record<string, unknown>) {
    this._values = new Map(Object.entries(data));
  }
  get(name: string): unknown {
    return this._values.get(name) ?? null;
  }
  set(name: string, value: unknown): void {
    this._values.set(name, value);
  }
  save_changes(): void {
    // Nothing to sync: there is no kernel behind a saved output.
  }
  on(): void {
    // A saved graph never changes.
  }
  off(): void {
    // See on().
  }
  private _values: Map<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class RunGraphRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions) {
    super();
    this._mimeType = options.mimeType;
    this.addClass('onb-saved-graph-view');
    this.node.dataset.testid = 'onb-saved-graph-view';
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this._cleanup();
    this.node.replaceChildren();
    const data = model.data[this._mimeType];
    if (!isRecord(data) || !isRecord(data.graph)) {
      const note = document.createElement('pre');
      note.className = 'onb-error';
      note.textContent = 'This run graph output is not readable (no graph in it).';
      this.node.append(note);
      return;
    }
    const el = document.createElement('div');
    this.node.append(el);
    const graphModel = new StaticGraphModel({
      graph: data.graph,
      states: isRecord(data.states) ? data.states : {},
      box: isRecord(data.box) ? data.box : null,
      selected: null
    });
    this._dispose = view.render({ model: graphModel, el });
  }

  dispose(): void {
    this._cleanup();
    super.dispose();
  }

  private _cleanup(): void {
    if (this._dispose) {
      this._dispose();
      this._dispose = null;
    }
  }

  private _dispose: (() => void) | null = null;
  private _mimeType: string;
}

export const rendererFactory: IRenderMime.IRendererFactory = {
  safe: true,
  mimeTypes: [RUN_GRAPH_MIME],
  createRenderer: options => new RunGraphRenderer(options)
};

const extension: IRenderMime.IExtension = {
  id: 'orchestrate-nb:run-graph-renderer',
  description: 'Draws saved orchestrate_nb run graphs without a kernel.',
  rendererFactory,
  // Before JupyterLab's HTML (50) and SVG renderers: the bundle carries those as fallbacks.
  rank: 10,
  dataType: 'json'
};

export default extension;
