// A run's logs: read incrementally (`logs?after=<cursor>`), followed while the run goes on
// and no longer once the server says `final`; searched and filtered by level on the server
// (a new search starts the stream over), windowed so a long log scrolls smoothly.
import React, { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';

import { ApiClient, ApiError, LogLine } from '../api';
import { fullTime } from '../runs/format';
import { IVirtualListHandle, VirtualList } from '../runs/VirtualList';

const LINE_HEIGHT = 18;
const PAGE = 1000;
const FOLLOW_MS = 1500;

const LEVELS: Array<[number, string]> = [
  [0, 'All levels'],
  [10, 'Debug and up'],
  [20, 'Info and up'],
  [30, 'Warnings and up'],
  [40, 'Errors only']
];

interface IRow {
  key: string;
  first: boolean;
  line: LogLine;
  text: string;
}

const clock = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false
});

function rowsOf(lines: LogLine[]): IRow[] {
  const rows: IRow[] = [];
  for (const line of lines) {
    const parts = String(line.message ?? '').split('\n');
    parts.forEach((text, index) => rows.push({ key: `${line.id}:${index}`, first: index === 0, line, text }));
  }
  return rows;
}

function Highlighted(props: { text: string; q: string }): JSX.Element {
  const { text, q } = props;
  if (!q) {
    return <>{text}</>;
  }
  const lower = text.toLowerCase();
  const needle = q.toLowerCase();
  const parts: React.ReactNode[] = [];
  let from = 0;
  for (let at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, from)) {
    parts.push(text.slice(from, at), <mark key={at}>{text.slice(at, at + needle.length)}</mark>);
    from = at + needle.length;
  }
  parts.push(text.slice(from));
  return <>{parts}</>;
}

function LogRow(props: { row: IRow; q: string }): JSX.Element {
  const { row, q } = props;
  const line = row.line;
  const level = line.level_name || String(line.level);
  return (
    <div className={`onb-log${row.first ? '' : ' onb-log--more'}`} data-level={level} data-testid={row.first ? 'onb-log-line' : undefined}>
      <span className="onb-log__time" title={fullTime(line.timestamp)}>
        {row.first ? clock.format(new Date(line.timestamp)) : ''}
      </span>
      <span className="onb-log__level">{row.first ? level : ''}</span>
      <span className="onb-log__task" title={line.task_name ?? ''}>
        {row.first ? line.task_name ?? '' : ''}
      </span>
      <span className="onb-log__message">
        <Highlighted text={row.text} q={q} />
      </span>
    </div>
  );
}

export function LogView(props: { api: ApiClient; runId: string; tick: number; runFinal: boolean }): JSX.Element {
  const { api, runId } = props;
  const [search, setSearch] = useState('');
  const [q, setQ] = useState('');
  const [level, setLevel] = useState(0);
  const [rows, setRows] = useState<IRow[]>([]);
  const [final, setFinal] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [atBottom, setAtBottom] = useState(true);
  const list = useRef<IVirtualListHandle>(null);
  const stream = useRef({ generation: 0, cursor: 0, busy: false, again: false, final: false });

  useEffect(() => {
    const timer = setTimeout(() => setQ(search.trim()), 300);
    return () => clearTimeout(timer);
  }, [search]);

  const pull = useCallback(async () => {
    const s = stream.current;
    if (s.busy) {
      s.again = true;
      return;
    }
    s.busy = true;
    const generation = s.generation;
    try {
      do {
        s.again = false;
        for (;;) {
          const page = await api.getLogs(runId, { after: s.cursor, limit: PAGE, q: q || undefined, level: level || undefined });
          if (generation !== s.generation) {
            return;
          }
          s.cursor = page.cursor;
          s.final = page.final;
          if (page.logs.length) {
            const more = rowsOf(page.logs);
            setRows(previous => [...previous, ...more]);
          }
          setFinal(page.final);
          setError(null);
          if (page.logs.length < PAGE || page.final) {
            break;
          }
        }
      } while (s.again && !s.final);
    } catch (reason) {
      if (generation === s.generation) {
        setError((reason as ApiError).message);
      }
    } finally {
      if (generation === s.generation) {
        s.busy = false;
      }
    }
  }, [api, runId, q, level]);

  // A new search or level: start the stream over.
  useEffect(() => {
    stream.current = { generation: stream.current.generation + 1, cursor: 0, busy: false, again: false, final: false };
    setRows([]);
    setFinal(false);
    setAtBottom(true);
    void pull();
  }, [pull]);

  // Follow: on each change the server reports, and on a timer as a safety net.
  useEffect(() => {
    if (!stream.current.final) {
      void pull();
    }
  }, [props.tick, props.runFinal]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (final) {
      return;
    }
    const timer = setInterval(() => void pull(), FOLLOW_MS);
    return () => clearInterval(timer);
  }, [final, pull]);

  // Stay at the end while the reader is there.
  useLayoutEffect(() => {
    if (atBottom) {
      list.current?.scrollToEnd();
    }
  }, [rows, atBottom]);

  const lines = rows.filter(row => row.first).length;
  return (
    <div className="onb-logs" data-testid="onb-run-logs" data-final={final ? 'true' : 'false'}>
      <div className="onb-logs__toolbar">
        <input
          type="search"
          className="onb-input onb-logs__search"
          placeholder="Search the logs"
          aria-label="Search the logs"
          data-testid="onb-logs-search"
          value={search}
          onChange={event => setSearch(event.target.value)}
        />
        <select
          className="onb-input"
          aria-label="Log level"
          data-testid="onb-logs-level"
          value={level}
          onChange={event => setLevel(Number(event.target.value))}
        >
          {LEVELS.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
        <span className="onb-muted onb-logs__count" data-testid="onb-logs-count">
          {lines.toLocaleString()} line{lines === 1 ? '' : 's'}
          {final ? '' : ' · following'}
        </span>
        {!atBottom && (
          <button
            type="button"
            className="onb-button onb-logs__end"
            data-testid="onb-logs-end"
            onClick={() => {
              setAtBottom(true);
              list.current?.scrollToEnd();
            }}
          >
            Jump to end ↓
          </button>
        )}
      </div>
      {error && <p className="onb-error">{error}</p>}
      {rows.length ? (
        <VirtualList
          ref={list}
          items={rows}
          rowHeight={LINE_HEIGHT}
          rowKey={row => row.key}
          renderRow={row => <LogRow row={row} q={q} />}
          onAtBottom={setAtBottom}
          className="onb-logs__lines"
          testId="onb-logs-lines"
        />
      ) : (
        <p className="onb-muted onb-logs__empty" data-testid="onb-logs-empty">
          {q || level ? 'No log lines match.' : final ? 'This run wrote no log lines.' : 'No log lines yet.'}
        </p>
      )}
    </div>
  );
}
