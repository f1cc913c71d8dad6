// Times, schedules and parameter values as the Deployments tab and its dialogs show them.
// Times arrive as UTC ISO strings (docs/server-api.md) and are shown in the browser's zone,
// whose name is always shown beside them.

/** The browser's IANA time zone ("Europe/Berlin"), or "UTC" if it cannot say. */
export function browserZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/** The zone's short name at `when` ("CET", "GMT+1"), for a compact label. */
export function zoneAbbreviation(when: Date = new Date()): string {
  try {
    const part = new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' })
      .formatToParts(when)
      .find(p => p.type === 'timeZoneName');
    return part?.value ?? browserZone();
  } catch {
    return browserZone();
  }
}

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "Today 07:00", "Tomorrow 07:00", "Mon 8 Dec 07:00" (24-hour clock, local zone). */
export function formatRunTime(iso: string, now: Date = new Date()): string {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) {
    return iso;
  }
  const time = when.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
  const tomorrow = new Date(now);
  tomorrow.setDate(now.getDate() + 1);
  if (sameDay(when, now)) {
    return `Today ${time}`;
  }
  if (sameDay(when, tomorrow)) {
    return `Tomorrow ${time}`;
  }
  const day = when.toLocaleDateString(undefined, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    ...(when.getFullYear() !== now.getFullYear() ? { year: 'numeric' } : {})
  });
  return `${day} ${time}`;
}

/** The full local date and time with the zone, for a tooltip. */
export function formatFull(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) {
    return iso;
  }
  return `${when.toLocaleString(undefined, { hour12: false, timeZoneName: 'short' })} (${browserZone()})`;
}

/** "in 5 min", "in 3 h", "in 2 days", "now" — how far ahead a run is. */
export function fromNow(iso: string, now: Date = new Date()): string {
  const seconds = (new Date(iso).getTime() - now.getTime()) / 1000;
  if (!Number.isFinite(seconds)) {
    return '';
  }
  if (seconds < 60) {
    return seconds < -60 ? 'overdue' : 'now';
  }
  if (seconds < 3600) {
    return `in ${Math.round(seconds / 60)} min`;
  }
  if (seconds < 48 * 3600) {
    return `in ${Math.round(seconds / 3600)} h`;
  }
  return `in ${Math.round(seconds / 86400)} days`;
}

/** A duration in seconds as "0.8 s", "12 s", "3 min 5 s", "2 h 4 min". */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) {
    return '';
  }
  if (seconds < 10) {
    return `${seconds.toFixed(1)} s`;
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  if (seconds < 3600) {
    const m = Math.floor(seconds / 60);
    const s = Math.round(seconds % 60);
    return s ? `${m} min ${s} s` : `${m} min`;
  }
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds % 3600) / 60);
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** An interval in words: 3600 → "every hour", 5400 → "every 90 minutes". */
export function intervalWords(seconds: number): string {
  const units: Array<[number, string]> = [
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
    [1, 'second']
  ];
  for (const [size, unit] of units) {
    if (seconds >= size && seconds % size === 0) {
      const count = seconds / size;
      return count === 1 ? `every ${unit}` : `every ${count} ${unit}s`;
    }
  }
  return `every ${seconds} seconds`;
}

/** A notebook's file name without folders or `.ipynb`, as a deployment's default name. */
export function defaultDeploymentName(path: string): string {
  const file = path.split('/').pop() ?? path;
  return (
    file
      .replace(/\.ipynb$/i, '')
      .trim()
      .replace(/[\s_]+/g, '-')
      .toLowerCase() || 'notebook'
  );
}
