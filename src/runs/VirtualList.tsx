// A windowed list: only the rows in view (plus a few) are in the DOM, so 10,000 runs or
// 100,000 log lines scroll as smoothly as 50. Rows have one fixed height.
import React, { useCallback, useEffect, useImperativeHandle, useLayoutEffect, useRef, useState } from 'react';

export interface IVirtualListProps<T> {
  items: readonly T[];
  rowHeight: number;
  renderRow: (item: T, index: number) => React.ReactNode;
  rowKey: (item: T, index: number) => string | number;
  /** Called when the last rows come into view (load the next page). */
  onNearEnd?: () => void;
  /** Called with whether the view is scrolled to the very bottom. */
  onAtBottom?: (atBottom: boolean) => void;
  /** Shown under the rows (e.g. "Load more"). */
  footer?: React.ReactNode;
  overscan?: number;
  className?: string;
  testId?: string;
  role?: string;
  ariaLabel?: string;
}

export interface IVirtualListHandle {
  scrollToEnd(): void;
  element(): HTMLDivElement | null;
}

function VirtualListInner<T>(props: IVirtualListProps<T>, ref: React.Ref<IVirtualListHandle>): JSX.Element {
  const { items, rowHeight, overscan = 8 } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const frame = useRef(0);

  useImperativeHandle(ref, () => ({
    scrollToEnd: () => {
      const el = scroller.current;
      if (el) {
        el.scrollTop = el.scrollHeight;
      }
    },
    element: () => scroller.current
  }));

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) {
      return;
    }
    setHeight(el.clientHeight || 600);
    const observer = new ResizeObserver(() => setHeight(el.clientHeight || 600));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const onScroll = useCallback(() => {
    if (frame.current) {
      return;
    }
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      const el = scroller.current;
      if (!el) {
        return;
      }
      setScrollTop(el.scrollTop);
      props.onAtBottom?.(el.scrollTop + el.clientHeight >= el.scrollHeight - 4);
    });
  }, [props.onAtBottom]);

  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((scrollTop + height) / rowHeight) + overscan);

  const nearEnd = last >= items.length - overscan;
  const { onNearEnd } = props;
  useEffect(() => {
    if (nearEnd && items.length && onNearEnd) {
      onNearEnd();
    }
  }, [nearEnd, items.length, onNearEnd]);

  const rows: React.ReactNode[] = [];
  for (let index = first; index < last; index++) {
    const item = items[index];
    rows.push(
      <div
        key={props.rowKey(item, index)}
        className="onb-vlist__row"
        role={props.role === 'list' ? 'listitem' : undefined}
        style={{ top: index * rowHeight, height: rowHeight }}
      >
        {props.renderRow(item, index)}
      </div>
    );
  }
  return (
    <div
      ref={scroller}
      className={`onb-vlist ${props.className ?? ''}`}
      onScroll={onScroll}
      data-testid={props.testId}
      role={props.role}
      aria-label={props.ariaLabel}
    >
      <div className="onb-vlist__space" style={{ height: items.length * rowHeight }}>
        {rows}
      </div>
      {props.footer}
    </div>
  );
}

export const VirtualList = React.forwardRef(VirtualListInner) as <T>(
  props: IVirtualListProps<T> & { ref?: React.Ref<IVirtualListHandle> }
) => JSX.Element;
