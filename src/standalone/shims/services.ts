// Stand-in for @jupyterlab/services in the standalone page's bundle (esbuild --alias): the
// sidebar's ApiClient (src/api.ts) asks ServerConnection for settings and requests; outside
// JupyterLab they are a plain same-origin fetch, authenticated by the server's cookie.
export namespace ServerConnection {
  export interface ISettings {
    readonly baseUrl: string;
  }
  export function makeSettings(): ISettings {
    return { baseUrl: '/' };
  }
  export function makeRequest(url: string, init: RequestInit, _settings: ISettings): Promise<Response> {
    return fetch(url, { ...init, credentials: 'same-origin' });
  }
}
