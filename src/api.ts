// A typed client for the Orchestrate REST API (docs/server-api.md), served by the server
// extension under `{baseUrl}orchestrate/api/`. Every request goes through JupyterLab's
// ServerConnection (token, XSRF, base URL); an error surfaces the server's one-line message.
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export type StateType =
  | 'SCHEDULED'
  | 'PENDING'
  | 'RUNNING'
  | 'PAUSED'
  | 'COMPLETED'
  | 'FAILED'
  | 'CRASHED'
  | 'CANCELLED'
  | 'CANCELLING'
  | string;

export interface RunSummary {
  id: string;
  name: string;
  flow_name: string;
  deployment_id: string | null;
  deployment_name: string | null;
  kind: 'run' | 'session';
  state_type: StateType;
  state_name: string;
  state_message: string | null;
  created: string | null;
  scheduled_time: string | null;
  start_time: string | null;
  end_time: string | null;
  duration_seconds: number | null;
  tags: string[];
  pool: string | null;
  task_runs: Record<string, number>;
}

export interface PauseInfo {
  message: string | null;
  input_schema: JSONSchema | null;
  expires: string | null;
}

export interface RunInfo extends RunSummary {
  parameters: Record<string, unknown>;
  executed_notebook: string | null;
  notebook_lab_path: string | null;
  pause: PauseInfo | null;
}

export interface StateRecord {
  type: StateType;
  name: string;
  message: string | null;
  timestamp: string;
  task_run_id: string | null;
}

export interface TaskRun {
  id: string;
  name: string;
  task_name: string;
  task_key: string;
  map_index: number;
  state_type: StateType;
  state_name: string;
  state_message: string | null;
  start_time: string | null;
  end_time: string | null;
  duration_seconds: number | null;
  run_count: number;
}

export interface Edge {
  upstream: string;
  downstream: string;
  input_name: string | null;
}

/** The run-graph snapshot the inline widget draws (`GraphModel.snapshot`). */
export interface GraphSnapshot {
  flow?: Record<string, unknown> | null;
  nodes: Array<Record<string, unknown>>;
  edges: Array<Record<string, unknown>>;
  [key: string]: unknown;
}

export interface RunDetail {
  run: RunInfo;
  states: StateRecord[];
  task_runs: TaskRun[];
  edges: Edge[];
  graph: GraphSnapshot | null;
  artifacts?: Artifact[];
}

export interface LogLine {
  id: number;
  timestamp: string;
  level: number;
  level_name: string;
  logger: string;
  message: string;
  task_run_id: string | null;
  task_name: string | null;
}

export interface LogPage {
  logs: LogLine[];
  cursor: number;
  final: boolean;
}

export interface RunPage {
  runs: RunSummary[];
  next: string | null;
  cursor: number;
}

export interface Schedule {
  kind: 'cron' | 'interval' | 'rrule' | null;
  cron: string | null;
  interval_seconds: number | null;
  rrule: string | null;
  timezone: string;
  description: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JSONSchema = Record<string, any>;

export interface Deployment {
  id: string;
  name: string;
  kind: 'notebook' | 'python';
  entrypoint: string;
  flow_name: string;
  parameters: Record<string, unknown>;
  pool: string;
  paused: boolean;
  schedule: Schedule;
  next_runs: string[];
  retries: number;
  cache: string;
  tags: string[];
  last_runs: RunSummary[];
  parameter_schema: JSONSchema;
}

export interface DeploymentRequest {
  path: string;
  name: string;
  cron?: string;
  interval?: number;
  timezone?: string;
  parameters?: Record<string, unknown>;
  pool?: string;
  retries?: number;
  retry_delay_seconds?: number;
  cache?: 'refresh' | 'reuse';
}

export interface SchedulePreview {
  description: string;
  next_runs: string[];
}

export interface NotebookParameter {
  name: string;
  type: string;
  default: unknown;
}

export interface Worker {
  id: string;
  pool: string;
  host: string;
  pid: number;
  alive: boolean;
  started: string;
  last_heartbeat: string;
  runs: string[];
}

export interface Status {
  running: number;
  awaiting_approval: number;
  scheduled: number;
  cursor: number;
}

export interface Changes {
  cursor: number;
  changed: boolean;
}

export interface StateInfo {
  mark: string;
  colour: string;
  final: boolean;
  unsuccessful?: boolean;
  [key: string]: unknown;
}

export interface Meta {
  version: string;
  states: Record<string, StateInfo>;
  box: Record<string, number>;
  root_dir: string;
}

export interface RunQuery {
  flow?: string;
  state?: string | string[];
  deployment?: string;
  tag?: string;
  q?: string;
  since?: string;
  until?: string;
  kind?: 'runs' | 'sessions' | 'all';
  limit?: number;
  before?: string;
}

export interface LogQuery {
  after?: number;
  limit?: number;
  q?: string;
  level?: number;
}

export interface Artifact {
  id: string;
  key: string | null;
  type: 'markdown' | 'table' | 'link' | 'image' | 'progress' | string;
  data: any;
  description: string | null;
  summary: string;
  flow_run_id: string | null;
  task_run_id: string | null;
  created: string | null;
  updated: string | null;
}

export interface VariableInfo {
  name: string;
  value: unknown;
  tags: string[];
  created: string | null;
  updated: string | null;
}

/** A saved block; every secret field's value is the mask `**********`. */
export interface BlockInfo {
  ref: string;
  block_type: string;
  name: string;
  class_path: string;
  data: Record<string, unknown>;
  secret_fields: string[];
  created: string | null;
  updated: string | null;
}

export interface AlertDelivery {
  id: number;
  event: string;
  target: string;
  flow_run_id: string | null;
  status: 'sending' | 'retrying' | 'sent' | 'failed' | string;
  attempts: number;
  subject: string | null;
  error: string | null;
  next_attempt: string | null;
  created: string | null;
  updated: string | null;
}

export interface AlertInfo {
  id: number;
  name: string;
  events: string[];
  deployment: string | null;
  flow: string | null;
  tag: string | null;
  no_success_for_seconds: number | null;
  notify: string[];
  created: string | null;
  updated: string | null;
  deliveries: AlertDelivery[];
}

/** A failed request: `message` is the server's one line, `status` the HTTP status (0: no answer). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Query = Record<string, string | number | string[] | undefined | null>;

function queryString(query: Query | undefined): string {
  if (!query) {
    return '';
  }
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') {
      continue;
    }
    if (Array.isArray(value)) {
      if (value.length) {
        params.set(key, value.join(','));
      }
    } else {
      params.set(key, String(value));
    }
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

const enc = encodeURIComponent;

export class ApiClient {
  constructor(readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  /** The URL of an API path (relative to `orchestrate/api/`). */
  url(path: string, query?: Query): string {
    return URLExt.join(this.serverSettings.baseUrl, 'orchestrate/api', path) + queryString(query);
  }

  async request<T>(method: string, path: string, options: { query?: Query; body?: unknown } = {}): Promise<T> {
    const init: RequestInit = { method };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(this.url(path, options.query), init, this.serverSettings);
    } catch (error) {
      throw new ApiError(`the Jupyter server did not answer (${(error as Error).message})`, 0);
    }
    const text = await response.text();
    let data: unknown = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const message =
        data && typeof (data as { message?: unknown }).message === 'string'
          ? (data as { message: string }).message
          : response.status === 404
            ? 'the Orchestrate server extension is not enabled on this Jupyter server'
            : `${response.status} ${response.statusText}`.trim();
      throw new ApiError(message.split('\n')[0], response.status);
    }
    return data as T;
  }

  // Runs
  listRuns(query: RunQuery = {}): Promise<RunPage> {
    return this.request('GET', 'runs', { query: query as Query });
  }
  getRun(id: string): Promise<RunDetail> {
    return this.request('GET', `runs/${enc(id)}`);
  }
  getLogs(id: string, query: LogQuery = {}): Promise<LogPage> {
    return this.request('GET', `runs/${enc(id)}/logs`, { query: query as Query });
  }
  cancelRun(id: string): Promise<{ run: RunSummary }> {
    return this.request('POST', `runs/${enc(id)}/cancel`, { body: {} });
  }
  resumeRun(id: string, input?: Record<string, unknown>): Promise<{ run: RunSummary }> {
    return this.request('POST', `runs/${enc(id)}/resume`, { body: input === undefined ? {} : { input } });
  }
  rerun(id: string): Promise<{ run: RunSummary }> {
    return this.request('POST', `runs/${enc(id)}/rerun`, { body: {} });
  }
  openNotebook(id: string): Promise<{ path: string }> {
    return this.request('POST', `runs/${enc(id)}/notebook`, { body: {} });
  }

  // Deployments
  async listDeployments(): Promise<Deployment[]> {
    return (await this.request<{ deployments: Deployment[] }>('GET', 'deployments')).deployments;
  }
  async getDeployment(name: string): Promise<Deployment> {
    return (await this.request<{ deployment: Deployment }>('GET', `deployments/${enc(name)}`)).deployment;
  }
  async createDeployment(body: DeploymentRequest): Promise<Deployment> {
    return (await this.request<{ deployment: Deployment }>('POST', 'deployments', { body })).deployment;
  }
  async runDeployment(name: string, parameters: Record<string, unknown> = {}): Promise<RunSummary> {
    return (await this.request<{ run: RunSummary }>('POST', `deployments/${enc(name)}/run`, { body: { parameters } }))
      .run;
  }
  async pauseDeployment(name: string): Promise<Deployment> {
    return (await this.request<{ deployment: Deployment }>('POST', `deployments/${enc(name)}/pause`, { body: {} }))
      .deployment;
  }
  async resumeDeployment(name: string): Promise<Deployment> {
    return (await this.request<{ deployment: Deployment }>('POST', `deployments/${enc(name)}/resume`, { body: {} }))
      .deployment;
  }
  removeDeployment(name: string): Promise<{ removed: number }> {
    return this.request('DELETE', `deployments/${enc(name)}`);
  }
  previewSchedule(body: { cron?: string; interval?: number; timezone?: string }): Promise<SchedulePreview> {
    return this.request('POST', 'schedule/preview', { body });
  }
  notebookParameters(path: string): Promise<{ parameters: NotebookParameter[]; schema: JSONSchema }> {
    return this.request('GET', 'notebooks/parameters', { query: { path } });
  }

  // Workers, status, changes, meta
  async listVariables(): Promise<VariableInfo[]> {
    return (await this.request<{ variables: VariableInfo[] }>('GET', 'variables')).variables;
  }
  async listBlocks(): Promise<BlockInfo[]> {
    return (await this.request<{ blocks: BlockInfo[] }>('GET', 'blocks')).blocks;
  }
  async listAlerts(): Promise<AlertInfo[]> {
    return (await this.request<{ alerts: AlertInfo[] }>('GET', 'alerts')).alerts;
  }
  async listWorkers(): Promise<Worker[]> {
    return (await this.request<{ workers: Worker[] }>('GET', 'workers')).workers;
  }
  status(): Promise<Status> {
    return this.request('GET', 'status');
  }
  changes(cursor: number | null): Promise<Changes> {
    return this.request('GET', 'changes', { query: { cursor: cursor ?? undefined } });
  }
  meta(): Promise<Meta> {
    return this.request('GET', 'meta');
  }
}
