// The standalone page of `orchestrate-nb server start` (served from orchestrate_nb/server/
// static/): runs, a run's page (graph, states, artifacts, followed logs, the executed notebook
// as sanitised HTML), deployments with Run now, and approvals. It talks to the same API as
// the JupyterLab sidebar (docs/server-api.md) with the cookie the server set from the
// printed URL's token.
//
// The sidebar's components that need no JupyterLab runtime are mounted as they are: the run
// graph (run/RunGraph: the inline widget's own view), the followed, searchable logs
// (run/LogView) over the sidebar's ApiClient (api.ts; esbuild swaps @jupyterlab/services and
// coreutils for the small stand-ins in shims/), and the state chips, with the sidebar's
// styles. The shell around them (hash routes, lists, forms) is plain DOM built with
// textContent and attributes only (never HTML strings from the server): the sidebar's tabs
// and dialogs are JupyterLab widgets (ReactWidget, showDialog, FormComponent, commands).
import React from 'react';
import { createRoot, Root } from 'react-dom/client';

import { ApiClient, GraphSnapshot, Meta } from '../api';
import { LogView } from '../run/LogView';
import { RunGraph } from '../run/RunGraph';
import { StateChip } from '../runs/RunsTab';
import '../../style/index.css';
import './standalone.css';

type Json = Record<string, any>;

const API = '/orchestrate/api/';
const FINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED']);

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
  }
}

async function api(path: string, init: RequestInit = {}): Promise<Json> {
  const response = await fetch(API + path, {
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    ...init
  });
  let body: Json = {};
  try {
    body = await response.json();
  } catch {
    body = { message: response.statusText };
  }
  if (!response.ok) {
    throw new ApiError(response.status, String(body.message ?? response.statusText));
  }
  return body;
}

function post(path: string, body: Json = {}): Promise<Json> {
  return api(path, { method: 'POST', body: JSON.stringify(body) });
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Array<Node | string | null | undefined>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === 'class') {
      node.className = value;
    } else {
      node.setAttribute(name, value);
    }
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
  }
  return node;
}

function button(label: string, onClick: () => void, cls = ''): HTMLButtonElement {
  const b = el('button', { class: `onb-sa-button ${cls}`, type: 'button' }, label);
  b.addEventListener('click', onClick);
  return b;
}

function time(iso: string | null): string {
  if (!iso) {
    return '—';
  }
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

function seconds(value: number | null): string {
  if (value === null || value === undefined) {
    return '—';
  }
  if (value < 60) {
    return `${value.toFixed(1)} s`;
  }
  if (value < 3600) {
    return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
  }
  return `${Math.floor(value / 3600)} h ${Math.round((value % 3600) / 60)} min`;
}

/** The sidebar's state chip (runs/RunsTab's StateChip), mounted in place. */
function chip(run: Json): HTMLElement {
  const host = el('span', { class: 'onb-sa-chiphost' });
  createRoot(host).render(React.createElement(StateChip, { stateType: String(run.state_type), name: String(run.state_name) }));
  return host;
}

const client = new ApiClient();

function flash(message: string, error = true): void {
  const box = document.getElementById('onb-sa-flash');
  if (box) {
    box.textContent = message;
    box.className = error ? 'onb-sa-flash onb-sa-flash--error' : 'onb-sa-flash';
    window.setTimeout(() => {
      if (box.textContent === message) {
        box.textContent = '';
        box.className = 'onb-sa-flash';
      }
    }, 6000);
  }
}

// -- live: one poll of GET changes; the current page refreshes when the cursor moves ------
let cursor = -1;
let refreshPage: (() => Promise<void>) | null = null;
let meta: Json | null = null;

async function pollChanges(): Promise<void> {
  try {
    const answer = await api(`changes?cursor=${cursor}`);
    const changed = answer.changed && cursor !== -1;
    cursor = answer.cursor;
    if (changed) {
      await Promise.all([refreshStatus(), refreshPage ? refreshPage() : Promise.resolve()]);
    }
  } catch (error) {
    // the next poll tries again; the status line says the store is unreachable
    const status = document.getElementById('onb-sa-status');
    if (status) {
      status.textContent = (error as Error).message;
    }
  }
  window.setTimeout(pollChanges, 1500);
}

async function refreshStatus(): Promise<void> {
  const status = document.getElementById('onb-sa-status');
  if (!status) {
    return;
  }
  const counts = await api('status');
  status.textContent = `${counts.running} running · ${counts.awaiting_approval} awaiting approval · ${counts.scheduled} scheduled`;
}

// -- pages ----------------------------------------------------------------------------------
function main(): HTMLElement {
  return document.getElementById('onb-sa-main') as HTMLElement;
}

async function runsPage(params: URLSearchParams): Promise<void> {
  const state = params.get('state') ?? '';
  const q = params.get('q') ?? '';
  const filters = el('form', { class: 'onb-sa-filters' });
  const stateSelect = el('select', { name: 'state', 'aria-label': 'State' });
  stateSelect.append(el('option', { value: '' }, 'Any state'));
  for (const type of (meta?.state_types as string[]) ?? []) {
    const option = el('option', { value: type }, type.toLowerCase());
    if (type === state) {
      option.selected = true;
    }
    stateSelect.append(option);
  }
  const search = el('input', { name: 'q', placeholder: 'Search runs, flows, deployments', value: q });
  filters.append(stateSelect, search, el('button', { type: 'submit', class: 'onb-sa-button' }, 'Filter'));
  filters.addEventListener('submit', event => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (stateSelect.value) {
      next.set('state', stateSelect.value);
    }
    if (search.value.trim()) {
      next.set('q', search.value.trim());
    }
    location.hash = `#/runs?${next}`;
  });
  const table = el('table', { class: 'onb-sa-table', 'data-testid': 'runs-table' });
  table.append(
    el('thead', {}, el('tr', {}, ...['Run', 'State', 'Flow', 'Deployment', 'Created', 'Duration'].map(h => el('th', {}, h))))
  );
  const body = el('tbody');
  table.append(body);
  const more = button('More', () => void load(true));
  more.hidden = true;
  let next: string | null = null;

  async function load(append = false): Promise<void> {
    const query = new URLSearchParams({ limit: '50' });
    if (state) {
      query.set('state', state);
    }
    if (q) {
      query.set('q', q);
    }
    if (append && next) {
      query.set('before', next);
    }
    const page = await api(`runs?${query}`);
    if (!append) {
      body.replaceChildren();
    }
    for (const run of page.runs as Json[]) {
      const link = el('a', { href: `#/runs/${run.id}` }, String(run.name));
      body.append(
        el(
          'tr',
          { 'data-run': run.id },
          el('td', {}, link),
          el('td', {}, chip(run)),
          el('td', {}, String(run.flow_name)),
          el('td', {}, run.deployment_name ?? ''),
          el('td', {}, time(run.created)),
          el('td', {}, seconds(run.duration_seconds))
        )
      );
    }
    if (!body.children.length) {
      body.append(el('tr', {}, el('td', { colspan: '6', class: 'onb-sa-empty' }, 'No runs yet.')));
    }
    next = page.next;
    more.hidden = !next;
  }
  await load();
  main().replaceChildren(el('h1', {}, 'Runs'), filters, table, more);
  refreshPage = () => load();
}

function approvalForm(run: Json, onDone: () => void): HTMLElement {
  const pause = run.pause ?? {};
  const schema = pause.input_schema as Json | null;
  const form = el('form', { class: 'onb-sa-approval', 'data-testid': 'approval' });
  form.append(el('p', {}, pause.message || `${run.name} is waiting for approval`));
  const defaults: Json = {};
  for (const [name, prop] of Object.entries((schema?.properties as Json) ?? {})) {
    if ((prop as Json).default !== undefined) {
      defaults[name] = (prop as Json).default;
    }
  }
  const text = el('textarea', { rows: '4', 'aria-label': 'Input (JSON)' });
  if (schema) {
    text.value = JSON.stringify(defaults, null, 2);
    form.append(el('label', {}, 'Input (JSON, checked by the run):'), text);
  }
  form.append(el('button', { type: 'submit', class: 'onb-sa-button onb-sa-button--primary' }, 'Approve'));
  form.addEventListener('submit', event => {
    event.preventDefault();
    let input: Json | undefined;
    if (schema) {
      try {
        input = JSON.parse(text.value || '{}');
      } catch (error) {
        flash(`the input is not JSON: ${(error as Error).message}`);
        return;
      }
    }
    post(`runs/${run.id}/resume`, input ? { input } : {})
      .then(() => {
        flash(`${run.name} resumed`, false);
        onDone();
      })
      .catch(error => flash(error.message));
  });
  return form;
}

async function runPage(id: string): Promise<void> {
  let detail = await api(`runs/${encodeURIComponent(id)}`);
  const run = detail.run as Json;
  const header = el('div', { class: 'onb-sa-runhead' });
  const graphHost = el('div', { class: 'onb-sa-graph', 'data-testid': 'run-graph' });
  const statesList = el('ol', { class: 'onb-sa-states' });
  const artifacts = el('div', { class: 'onb-sa-artifacts' });
  const logsHost = el('div', { class: 'onb-sa-logs' });
  const graphRoot: Root = createRoot(graphHost);
  const logsRoot: Root = createRoot(logsHost);
  let tick = 0;

  function drawReact(): void {
    const r = detail.run as Json;
    graphRoot.render(React.createElement(RunGraph, { graph: detail.graph as GraphSnapshot, meta: meta as Meta }));
    logsRoot.render(React.createElement(LogView, { api: client, runId: String(r.id), tick, runFinal: FINAL.has(r.state_type) }));
  }

  function drawHeader(): void {
    const r = detail.run as Json;
    const actions = el('div', { class: 'onb-sa-actions' });
    if (!FINAL.has(r.state_type) && r.deployment_id) {
      actions.append(button('Cancel', () => void post(`runs/${r.id}/cancel`).then(refresh).catch(e => flash(e.message))));
    }
    if (r.deployment_id) {
      actions.append(
        button('Run again', () =>
          void post(`runs/${r.id}/rerun`)
            .then(answer => (location.hash = `#/runs/${answer.run.id}`))
            .catch(e => flash(e.message))
        )
      );
    }
    if (r.executed_notebook) {
      actions.append(
        el('a', { href: `${API}runs/${r.id}/notebook.html`, target: '_blank', rel: 'noopener', class: 'onb-sa-button' }, 'Executed notebook')
      );
    }
    const params = Object.keys(r.parameters ?? {}).length ? JSON.stringify(r.parameters) : '—';
    header.replaceChildren(
      el('h1', {}, String(r.name), ' ', chip(r)),
      el(
        'dl',
        {},
        el('dt', {}, 'Flow'),
        el('dd', {}, String(r.flow_name)),
        el('dt', {}, 'Deployment'),
        el('dd', {}, r.deployment_name ?? '—'),
        el('dt', {}, 'Started'),
        el('dd', {}, time(r.start_time)),
        el('dt', {}, 'Duration'),
        el('dd', {}, seconds(r.duration_seconds)),
        el('dt', {}, 'Parameters'),
        el('dd', { class: 'onb-sa-mono' }, params),
        el('dt', {}, 'Message'),
        el('dd', {}, r.state_message ?? '—')
      ),
      actions,
      ...(r.state_type === 'PAUSED' ? [approvalForm(r, () => void refresh())] : [])
    );
    statesList.replaceChildren(
      ...(detail.states as Json[]).filter(s => !s.task_run_id).map(s => el('li', {}, `${time(s.timestamp)} · ${s.name}${s.message ? ` — ${s.message}` : ''}`))
    );
    artifacts.replaceChildren(
      ...((detail.artifacts as Json[]) ?? []).map(a => el('div', { class: 'onb-sa-artifact' }, el('strong', {}, a.key ?? a.type), ' ', String(a.summary ?? '')))
    );
    if (!(detail.artifacts as Json[])?.length) {
      artifacts.append(el('p', { class: 'onb-sa-empty' }, 'No artifacts.'));
    }
  }

  async function refresh(): Promise<void> {
    detail = await api(`runs/${encodeURIComponent(run.id)}`);
    tick += 1;
    drawHeader();
    drawReact();
  }

  drawHeader();
  drawReact();
  main().replaceChildren(
    el('p', {}, el('a', { href: '#/runs' }, '← Runs')),
    header,
    el('h2', {}, 'Graph'),
    graphHost,
    el('div', { class: 'onb-sa-columns' }, el('section', {}, el('h2', {}, 'States'), statesList), el('section', {}, el('h2', {}, 'Artifacts'), artifacts)),
    el('h2', {}, 'Logs'),
    logsHost
  );
  refreshPage = refresh;
}

function parameterInputs(schema: Json | null, defaults: Json): { node: HTMLElement; read: () => Json } {
  const box = el('div', { class: 'onb-sa-params' });
  const readers: Array<(into: Json) => void> = [];
  const properties = (schema?.properties as Json) ?? {};
  for (const [name, prop] of Object.entries(properties) as Array<[string, Json]>) {
    const current = defaults[name] ?? prop.default;
    const input = el('input', { name, 'aria-label': name });
    if (prop.type === 'boolean') {
      input.type = 'checkbox';
      input.checked = Boolean(current);
    } else {
      input.value = current === undefined || current === null ? '' : typeof current === 'string' ? current : JSON.stringify(current);
    }
    box.append(el('label', {}, `${name}${prop.title ? ` (${prop.title})` : ''}`, input));
    readers.push(into => {
      if (prop.type === 'boolean') {
        into[name] = input.checked;
      } else if (input.value === '') {
        return;
      } else if (prop.type === 'string') {
        into[name] = input.value;
      } else {
        try {
          into[name] = JSON.parse(input.value);
        } catch {
          into[name] = input.value; // the server names the parameter and the type it expects
        }
      }
    });
  }
  if (!schema) {
    box.append(el('p', { class: 'onb-sa-empty' }, 'Parameters are not known without running code: the defaults are used.'));
  }
  return {
    node: box,
    read: () => {
      const out: Json = {};
      readers.forEach(read => read(out));
      return out;
    }
  };
}

async function deploymentsPage(): Promise<void> {
  const list = el('div', { class: 'onb-sa-cards' });
  async function load(): Promise<void> {
    const answer = await api('deployments');
    list.replaceChildren();
    for (const d of answer.deployments as Json[]) {
      const form = el('form', { class: 'onb-sa-runnow', hidden: '' });
      const inputs = parameterInputs(d.parameter_schema, d.parameters ?? {});
      form.append(inputs.node, el('button', { type: 'submit', class: 'onb-sa-button onb-sa-button--primary' }, 'Run'));
      form.addEventListener('submit', event => {
        event.preventDefault();
        post(`deployments/${encodeURIComponent(d.name)}/run`, { parameters: inputs.read() })
          .then(created => (location.hash = `#/runs/${created.run.id}`))
          .catch(error => flash(error.message));
      });
      const last = el('div', { class: 'onb-sa-last' }, ...(d.last_runs as Json[]).map(r => el('a', { href: `#/runs/${r.id}` }, chip(r))));
      list.append(
        el(
          'div',
          { class: 'onb-sa-card', 'data-deployment': d.name },
          el('h2', {}, String(d.name), d.paused ? el('span', { class: 'onb-sa-chip' }, 'paused') : null),
          el('p', {}, String(d.schedule.description)),
          el('p', { class: 'onb-sa-muted' }, d.next_runs.length ? `Next: ${time(d.next_runs[0])}` : 'No next run'),
          last,
          el(
            'div',
            { class: 'onb-sa-actions' },
            button('Run now…', () => {
              form.hidden = !form.hidden;
            }),
            button(d.paused ? 'Resume' : 'Pause', () =>
              void post(`deployments/${encodeURIComponent(d.name)}/${d.paused ? 'resume' : 'pause'}`)
                .then(load)
                .catch(e => flash(e.message))
            )
          ),
          form
        )
      );
    }
    if (!list.children.length) {
      list.append(el('p', { class: 'onb-sa-empty' }, 'No deployments. Deploy one with: orchestrate-nb deploy NOTEBOOK --name N'));
    }
  }
  await load();
  main().replaceChildren(el('h1', {}, 'Deployments'), list);
  refreshPage = load;
}

async function approvalsPage(): Promise<void> {
  const list = el('div', { class: 'onb-sa-cards' });
  async function load(): Promise<void> {
    const answer = await api('runs?state=PAUSED&limit=100');
    list.replaceChildren();
    for (const summary of answer.runs as Json[]) {
      const detail = await api(`runs/${summary.id}`);
      list.append(
        el('div', { class: 'onb-sa-card' }, el('h2', {}, el('a', { href: `#/runs/${summary.id}` }, String(summary.name))), approvalForm(detail.run, () => void load()))
      );
    }
    if (!list.children.length) {
      list.append(el('p', { class: 'onb-sa-empty' }, 'Nothing is waiting for approval.'));
    }
  }
  await load();
  main().replaceChildren(el('h1', {}, 'Approvals'), list);
  refreshPage = load;
}

async function route(): Promise<void> {
  const [path, query] = (location.hash.replace(/^#/, '') || '/runs').split('?');
  const parts = path.split('/').filter(Boolean);
  refreshPage = null;
  for (const link of Array.from(document.querySelectorAll('nav a'))) {
    link.classList.toggle('onb-sa-active', (link.getAttribute('href') ?? '').slice(2) === parts[0]);
  }
  try {
    if (parts[0] === 'runs' && parts[1]) {
      await runPage(decodeURIComponent(parts[1]));
    } else if (parts[0] === 'deployments') {
      await deploymentsPage();
    } else if (parts[0] === 'approvals') {
      await approvalsPage();
    } else {
      await runsPage(new URLSearchParams(query ?? ''));
    }
  } catch (error) {
    main().replaceChildren(el('p', { class: 'onb-sa-flash onb-sa-flash--error' }, (error as Error).message));
  }
}

async function start(): Promise<void> {
  document.body.replaceChildren(
    el(
      'header',
      { class: 'onb-sa-top' },
      el('strong', {}, 'orchestrate_nb'),
      el('nav', {}, el('a', { href: '#/runs' }, 'Runs'), el('a', { href: '#/deployments' }, 'Deployments'), el('a', { href: '#/approvals' }, 'Approvals')),
      el('span', { id: 'onb-sa-status', class: 'onb-sa-muted' })
    ),
    el('div', { id: 'onb-sa-flash', class: 'onb-sa-flash', role: 'status' }),
    el('main', { id: 'onb-sa-main' })
  );
  try {
    meta = await api('meta');
  } catch (error) {
    main().replaceChildren(el('p', { class: 'onb-sa-flash onb-sa-flash--error' }, (error as Error).message));
    return;
  }
  window.addEventListener('hashchange', () => void route());
  await Promise.all([route(), refreshStatus().catch(() => undefined)]);
  void pollChanges();
}

void start();
