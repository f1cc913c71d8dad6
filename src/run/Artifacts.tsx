// A run's artifacts on its page: markdown through JupyterLab's sanitised markdown renderer,
// tables as tables (the first rows, then "N more"), links (http/https only), images, and
// progress as a bar. Keyed artifacts show their key. The page re-reads the run on each
// change, so a progress bar follows its updates.
import { MimeModel, IRenderMimeRegistry } from '@jupyterlab/rendermime';
import React, { useEffect, useRef } from 'react';

import { Artifact } from '../api';

export const TABLE_ROWS = 20; // a table shows its first 20 rows, then "N more rows"

function safeUrl(url: unknown): string | null {
  if (typeof url !== 'string') {
    return null;
  }
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

function Markdown(props: { text: string; rendermime: IRenderMimeRegistry | null }): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  const { text, rendermime } = props;
  useEffect(() => {
    const node = host.current;
    if (!node || !rendermime) {
      return;
    }
    const renderer = rendermime.createRenderer('text/markdown');
    let disposed = false;
    void renderer.renderModel(new MimeModel({ data: { 'text/markdown': text } })).then(() => {
      if (!disposed) {
        node.replaceChildren(renderer.node);
      }
    });
    return () => {
      disposed = true;
      renderer.dispose();
    };
  }, [text, rendermime]);
  return (
    <div ref={host} className="onb-artifact__markdown" data-testid="onb-artifact-markdown">
      {rendermime ? null : <pre>{text}</pre>}
    </div>
  );
}

function cell(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function Table(props: { data: { columns?: string[]; rows?: unknown[][] } }): JSX.Element {
  const columns = props.data.columns ?? [];
  const rows = props.data.rows ?? [];
  const more = rows.length - TABLE_ROWS;
  return (
    <div className="onb-artifact__table-wrap">
      <table className="onb-artifact__table" data-testid="onb-artifact-table">
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, TABLE_ROWS).map((row, i) => (
            <tr key={i}>
              {row.map((value, j) => (
                <td key={j}>{cell(value)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {more > 0 && (
        <p className="onb-muted" data-testid="onb-artifact-table-more">
          {more.toLocaleString()} more row{more === 1 ? '' : 's'}
        </p>
      )}
    </div>
  );
}

function Body(props: { artifact: Artifact; rendermime: IRenderMimeRegistry | null }): JSX.Element {
  const { artifact } = props;
  const data = artifact.data;
  switch (artifact.type) {
    case 'markdown':
      return <Markdown text={String(data ?? '')} rendermime={props.rendermime} />;
    case 'table':
      return <Table data={data ?? {}} />;
    case 'link': {
      const href = safeUrl(data?.link);
      const text = data?.link_text || data?.link || '';
      return href ? (
        <a href={href} target="_blank" rel="noopener noreferrer" data-testid="onb-artifact-link">
          {text}
        </a>
      ) : (
        <span data-testid="onb-artifact-link">{text}</span>
      );
    }
    case 'image': {
      const src = safeUrl(data?.image_url);
      return src ? (
        <img className="onb-artifact__image" src={src} alt={artifact.description || artifact.key || 'image'} />
      ) : (
        <span className="onb-muted">{String(data?.image_url ?? '')}</span>
      );
    }
    case 'progress': {
      const value = Math.max(0, Math.min(100, Number(data) || 0));
      return (
        <div className="onb-artifact__progress" data-testid="onb-artifact-progress" data-value={value}>
          <progress max={100} value={value} />
          <span>{value.toFixed(0)}%</span>
        </div>
      );
    }
    default:
      return <span className="onb-muted">{artifact.summary}</span>;
  }
}

export function Artifacts(props: { artifacts: Artifact[]; rendermime: IRenderMimeRegistry | null }): JSX.Element {
  if (!props.artifacts.length) {
    return <p className="onb-muted">No artifacts.</p>;
  }
  return (
    <div className="onb-artifacts" data-testid="onb-run-artifacts">
      {props.artifacts.map(artifact => (
        <article
          key={artifact.id}
          className="onb-artifact"
          data-testid="onb-artifact"
          data-type={artifact.type}
        >
          <header className="onb-artifact__header">
            {artifact.key && <span className="onb-artifact__key">{artifact.key}</span>}
            <span className="onb-artifact__type">{artifact.type}</span>
            {artifact.description && <span className="onb-muted">{artifact.description}</span>}
          </header>
          <Body artifact={artifact} rendermime={props.rendermime} />
        </article>
      ))}
    </div>
  );
}
