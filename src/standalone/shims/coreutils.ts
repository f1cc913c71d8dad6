// Stand-in for @jupyterlab/coreutils in the standalone page's bundle (esbuild --alias): the
// one helper src/api.ts uses.
export namespace URLExt {
  export function join(...parts: string[]): string {
    const joined = parts.filter(part => part !== '').join('/');
    return joined.replace(/([^:]\/)\/+/g, '$1').replace(/^\/\/+/, '/');
  }
}
