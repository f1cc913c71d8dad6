// The run's graph, drawn by the inline widget's own view (orchestrate_nb/notebook/graph/
// static/graph.js), as the saved-graph renderer draws it (src/mime/), through a model
// stand-in like src/mime's, here made live: each new snapshot from the API redraws in place.
import React, { useEffect, useRef } from 'react';

import view, { GraphModelLike } from '../../orchestrate_nb/notebook/graph/static/graph.js';
import '../../orchestrate_nb/notebook/graph/static/graph.css';
import { GraphSnapshot, Meta } from '../api';

/** What the view reads (as src/mime's StaticGraphModel), plus the `change:graph` events
 * it listens to, so a new snapshot redraws in place (hover and selection kept). */
export class LiveGraphModel implements GraphModelLike {
  constructor(data: Record<string, unknown>) {
    this._values = new Map(Object.entries(data));
  }
  get(name: string): unknown {
    return this._values.get(name) ?? null;
  }
  save_changes(): void {
    // No kernel behind it: the selection stays in the page.
  }
  on(event: string, callback: () => void): void {
    const list = this._listeners.get(event) ?? [];
    list.push(callback);
    this._listeners.set(event, list);
  }
  off(event: string, callback: () => void): void {
    this._listeners.set(
      event,
      (this._listeners.get(event) ?? []).filter(item => item !== callback)
    );
  }
  set(name: string, value: unknown): void {
    this._values.set(name, value);
    for (const callback of this._listeners.get(`change:${name}`) ?? []) {
      callback();
    }
  }
  private _values: Map<string, unknown>;
  private _listeners = new Map<string, Array<() => void>>();
}

export function RunGraph(props: { graph: GraphSnapshot | null; meta: Meta | null }): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  const model = useRef<LiveGraphModel | null>(null);
  const { meta, graph } = props;

  useEffect(() => {
    if (!host.current || !meta) {
      return;
    }
    const el = document.createElement('div');
    host.current.replaceChildren(el);
    const created = new LiveGraphModel({ graph: graph ?? {}, states: meta.states, box: meta.box, selected: null });
    model.current = created;
    const dispose = view.render({ model: created, el });
    return () => {
      dispose();
      model.current = null;
    };
    // Drawn once per meta; later snapshots go through the model.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [meta]);

  useEffect(() => {
    if (model.current && graph) {
      model.current.set('graph', graph);
    }
  }, [graph]);

  return <div className="onb-run__graph" ref={host} data-testid="onb-run-graph" />;
}
