/** A notebook path as the server's root sees it (without a drive prefix such as `RTC:`). */
export function localPath(path: string): string {
  const colon = path.indexOf(':');
  const slash = path.indexOf('/');
  return colon > 0 && (slash === -1 || colon < slash) ? path.slice(colon + 1) : path;
}
