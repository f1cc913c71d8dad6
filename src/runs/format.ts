// How runs show times and durations: local time (the zone on hover), compact durations.
import { RunSummary } from '../api';

const FINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED']);

export function isFinal(stateType: string): boolean {
  return FINAL.has(stateType);
}

/** Whether the run's clock is still going (its duration ticks). */
export function isActive(run: Pick<RunSummary, 'state_type' | 'start_time'>): boolean {
  return !isFinal(run.state_type) && run.state_type !== 'SCHEDULED' && !!run.start_time;
}

function zoneName(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch {
    return '';
  }
}

const ZONE = zoneName();
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayAndTime = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit'
});
const yearAndTime = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit'
});
const full = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  timeZoneName: 'short'
});

/** A short local time: "14:03:21" today, "Dec 3, 14:03" this year, else with the year. */
export function shortTime(iso: string | null, now: Date = new Date()): string {
  if (!iso) {
    return '';
  }
  const when = new Date(iso);
  if (isNaN(when.getTime())) {
    return '';
  }
  if (when.toDateString() === now.toDateString()) {
    return timeOnly.format(when);
  }
  return when.getFullYear() === now.getFullYear() ? dayAndTime.format(when) : yearAndTime.format(when);
}

const fullCache = new Map<string, string>();

/** The full local time with its zone, for a tooltip. */
export function fullTime(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const known = fullCache.get(iso);
  if (known !== undefined) {
    return known;
  }
  if (fullCache.size > 20_000) {
    fullCache.clear();
  }
  const text = formatFull(iso);
  fullCache.set(iso, text);
  return text;
}

function formatFull(iso: string): string {
  const when = new Date(iso);
  if (isNaN(when.getTime())) {
    return '';
  }
  return `${full.format(when)}${ZONE ? ` (${ZONE})` : ''}`;
}

/** "850 ms", "4.2 s", "3m 05s", "2h 03m", "3d 4h". */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return '';
  }
  if (seconds < 0) {
    seconds = 0;
  }
  if (seconds < 1) {
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes}m ${String(Math.floor(seconds % 60)).padStart(2, '0')}s`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 48) {
    return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
  }
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

/** Seconds the run has taken (still counting for an active run), or null. */
export function runSeconds(
  run: Pick<RunSummary, 'state_type' | 'start_time' | 'end_time' | 'duration_seconds'>,
  now: number = Date.now()
): number | null {
  if (!run.start_time) {
    return null;
  }
  const start = Date.parse(run.start_time);
  if (run.end_time) {
    return (Date.parse(run.end_time) - start) / 1000;
  }
  if (isActive(run)) {
    return (now - start) / 1000;
  }
  return run.duration_seconds;
}

/** "in 4m 10s" / "4m 10s ago" for a moment relative to now (whole seconds). */
export function relative(iso: string | null, now: number = Date.now()): string {
  if (!iso) {
    return '';
  }
  const delta = Math.round((Date.parse(iso) - now) / 1000);
  if (!isFinite(delta)) {
    return '';
  }
  if (delta === 0) {
    return 'now';
  }
  const size = Math.abs(delta);
  const text = size < 60 ? `${size} s` : formatSeconds(size);
  return delta > 0 ? `in ${text}` : `${text} ago`;
}

/** The time a run is listed at: its start, else when it is scheduled, else when it was made. */
export function listedTime(run: RunSummary): string | null {
  return run.start_time ?? run.scheduled_time ?? run.created;
}
