// One change subscription per app. The server computes a change cursor once a second and
// emits it on Jupyter Server's event bus (schema CHANGED_SCHEMA); we listen on the event
// stream JupyterLab already has open and, as a fallback, poll `changes?cursor=` with a
// @lumino/polling Poll that stands by while the page is hidden. Components subscribe and
// refetch when told; nothing is fetched until someone subscribes.
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Event } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import { useEffect, useState } from 'react';

import { ApiClient } from './api';
import { IOrchestrate, PLUGIN_PREFIX } from './tokens';

export const CHANGED_SCHEMA = 'https://orchestrate-nb.dev/events/changed/v1';

/** Fallback poll: brisk while no event has arrived, relaxed once the event bus is live. */
const POLL_WITHOUT_EVENTS = { interval: 2000, backoff: true, max: 30_000 };
const POLL_WITH_EVENTS = { interval: 15_000, backoff: true, max: 60_000 };

export class LiveChanges implements IDisposable {
  constructor(
    private readonly api: ApiClient,
    private readonly events: Event.IManager | null
  ) {
    this._poll = new Poll({
      auto: false,
      factory: () => this._check(),
      frequency: POLL_WITHOUT_EVENTS,
      name: `${PLUGIN_PREFIX}:changes`,
      standby: 'when-hidden'
    });
    this.events?.stream.connect(this._onEvent, this);
  }

  /** Emits the new cursor each time something changed. */
  get changed(): ISignal<this, number> {
    return this._changed;
  }

  get cursor(): number | null {
    return this._cursor;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Calls `listener` on each change; starts the poll on the first subscriber. */
  subscribe(listener: (cursor: number) => void): IDisposable {
    const slot = (_: unknown, cursor: number) => listener(cursor);
    this._changed.connect(slot);
    this._subscribers += 1;
    if (this._subscribers === 1) {
      void this._poll.start();
    }
    let disposed = false;
    return {
      get isDisposed() {
        return disposed;
      },
      dispose: () => {
        if (disposed) {
          return;
        }
        disposed = true;
        this._changed.disconnect(slot);
        this._subscribers -= 1;
        if (this._subscribers === 0) {
          void this._poll.stop();
        }
      }
    };
  }

  /** Ask the server now (e.g. right after an action of ours). */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this.events?.stream.disconnect(this._onEvent, this);
    this._poll.dispose();
    Signal.clearData(this);
  }

  private _onEvent(_: unknown, emission: Event.Emission): void {
    if (emission.schema_id !== CHANGED_SCHEMA) {
      return;
    }
    if (!this._sawEvent) {
      this._sawEvent = true;
      this._poll.frequency = POLL_WITH_EVENTS;
    }
    const cursor = Number((emission as { cursor?: unknown }).cursor);
    if (Number.isFinite(cursor)) {
      this._advance(cursor);
    }
  }

  private async _check(): Promise<void> {
    const answer = await this.api.changes(this._cursor);
    if (answer.changed || this._cursor === null) {
      this._advance(answer.cursor);
    }
  }

  private _advance(cursor: number): void {
    if (this._cursor !== null && cursor === this._cursor) {
      return;
    }
    this._cursor = cursor;
    if (this._subscribers > 0) {
      this._changed.emit(cursor);
    }
  }

  private _changed = new Signal<this, number>(this);
  private _cursor: number | null = null;
  private _disposed = false;
  private _poll: Poll;
  private _sawEvent = false;
  private _subscribers = 0;
}

/**
 * A number that goes up each time something changed: put it in a component's effect
 * dependencies to refetch on change (it starts at 0, which fetches once on mount).
 */
export function useChanges(live: LiveChanges): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const subscription = live.subscribe(() => setTick(value => value + 1));
    return () => subscription.dispose();
  }, [live]);
  return tick;
}

/** Provides IOrchestrate: the one API client and the one change subscription of this app. */
export const livePlugin: JupyterFrontEndPlugin<IOrchestrate> = {
  id: `${PLUGIN_PREFIX}:live`,
  description: 'The Orchestrate API client and its change subscription.',
  autoStart: true,
  provides: IOrchestrate,
  activate: (app: JupyterFrontEnd): IOrchestrate => {
    const api = new ApiClient(app.serviceManager.serverSettings);
    const live = new LiveChanges(api, app.serviceManager.events ?? null);
    return { api, live };
  }
};
