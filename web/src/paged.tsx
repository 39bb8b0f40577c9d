import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { api } from "./api.js";
import { describe } from "./messages.js";
import { Loading, Notice } from "./ui.js";

/** A list as `usePaged` keeps it: the items so far, the last failure, and the next page if there is one. */
export interface Paged<T> {
  items: T[];
  /** The last answer as a whole, for what a list route sends besides its items (the grantable scopes). */
  page?: Record<string, unknown>;
  error: string;
  loading: boolean;
  reload: () => void;
  more?: () => void;
}

/**
 * A list route of the API, paged with its cursor: each answer holds the items under `key` and the cursor
 * of the next page (`nextCursor`, null or absent on the last); "Show more" fetches the page after the last
 * item. `url` builds each screen's own address for a page, `after` undefined for the first.
 */
export function usePaged<T>(
  key: string,
  url: (after: string | undefined) => string,
  deps: readonly unknown[],
): Paged<T> {
  const [items, setItems] = useState<T[]>([]);
  const [last, setLast] = useState<Record<string, unknown>>();
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(true);
  const fetchPage = useCallback((after: string | undefined, append: boolean) => {
    setLoading(true);
    api<{ nextCursor?: string | null } & Record<string, unknown>>("GET", url(after)).then(
      (page) => {
        const got = page[key] as T[];
        setItems((old) => (append ? [...old, ...got] : got));
        setLast(page);
        setNext(page.nextCursor ?? null);
        setError("");
        setLoading(false);
      },
      (err) => {
        setError(describe(err));
        setLoading(false);
      },
    );
  }, deps);
  useEffect(() => fetchPage(undefined, false), [fetchPage]);
  return {
    items,
    page: last,
    error,
    loading,
    reload: () => fetchPage(undefined, false),
    more: next ? () => fetchPage(next, true) : undefined,
  };
}

export function MoreButton(props: { more?: () => void; loading: boolean }) {
  if (!props.more) return null;
  return (
    <div class="actions">
      <button type="button" onClick={props.more} disabled={props.loading}>
        {props.loading ? "Loading…" : "Show more"}
      </button>
    </div>
  );
}

/**
 * A paged list as every list screen shows it: the failure in words, what to say when there is nothing,
 * the rows (`row` returns each keyed `<li>`), and "Show more" while the API has another page.
 */
export function PagedRows<T>(props: {
  list: Paged<T>;
  label: string;
  row: (item: T) => ComponentChildren;
  /** Said once loaded with no items, unless the load failed (the error already says why). */
  empty?: string;
  /** "Loading…" until the first page arrives, where the list is the first thing on the screen. */
  showLoading?: boolean;
}) {
  const { list } = props;
  const none = !list.loading && list.items.length === 0 && !list.error;
  return (
    <>
      {list.error ? <Notice kind="error">{list.error}</Notice> : null}
      {props.showLoading && list.loading && list.items.length === 0 ? <Loading /> : null}
      {props.empty && none ? <p class="muted">{props.empty}</p> : null}
      <ul class="rows" aria-label={props.label}>
        {list.items.map(props.row)}
      </ul>
      <MoreButton more={list.more} loading={list.loading} />
    </>
  );
}
