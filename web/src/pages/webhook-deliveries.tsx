import { useEffect, useId, useRef, useState } from "preact/hooks";
import { api, withQuery } from "../api.js";
import { describe } from "../messages.js";
import { PagedRows, usePaged } from "../paged.js";
import { navigate, useLocation } from "../router.js";
import { DisclosureButton, InlineError, Select } from "../ui.js";
import type { Endpoint } from "./webhook-endpoint.js";

/** A delivery as the API lists it (src/webhooks/plugin.ts): one message to one endpoint. */
interface Delivery {
  id: string;
  messageId: string;
  endpointId: string;
  type: string;
  status: "pending" | "sending" | "succeeded" | "dead";
  attempts: number;
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}
interface Attempt {
  at: string;
  durationMs: number;
  status: number | null;
  response: string | null;
  error: string | null;
}

/** A status in words: `pending` after a failed attempt is a retry, not a delivery still waiting its turn. */
function badge(d: Delivery): [string, string] {
  if (d.status === "succeeded") return ["badge", "Delivered"];
  if (d.status === "dead") return ["badge bad", "Failed"];
  if (d.status === "sending") return ["badge", "Sending"];
  return d.attempts > 0 ? ["badge warn", "Retrying"] : ["badge off", "Queued"];
}

const STATUSES = ["", "pending", "sending", "succeeded", "dead"];
const STATUS_WORDS: Record<string, string> = {
  "": "Any status",
  pending: "Queued or retrying",
  sending: "Sending",
  succeeded: "Delivered",
  dead: "Failed (no retries left)",
};

/** Times to the second: attempts a second apart must read apart. */
const stamp = (iso: string): string =>
  new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** Only a finished delivery can be sent again (the API refuses one still on its way with 409). */
const finished = (d: Delivery) => d.status === "succeeded" || d.status === "dead";

/** How long until the list is asked again: soon while something moves, never while nothing can. */
function pollDelay(items: readonly Delivery[], waiting: boolean, now = Date.now()): number | undefined {
  let delay = waiting ? 1000 : undefined;
  for (const d of items) {
    if (d.status === "sending") return 1000;
    if (d.status !== "pending") continue;
    const due = d.nextAttemptAt ? Date.parse(d.nextAttemptAt) - now + 500 : 1000;
    delay = Math.min(delay ?? 30_000, Math.max(1000, Math.min(due, 30_000)));
  }
  return delay;
}

/**
 * The organisation's deliveries, newest first, filtered by endpoint and status (kept in the address, so
 * a reload or a shared link shows the same ones). While a delivery is on its way the list asks again on
 * its own, so a test event or a replay is seen to arrive; `expect` names a message just queued that
 * becomes a delivery once the dispatcher picks it up. `onChange` hears of every change of a status (an
 * endpoint's failure count and breaker change with them).
 */
export function Deliveries(props: {
  orgId: string;
  endpoints: readonly Endpoint[];
  expect?: string;
  onChange: () => void;
}) {
  const { path, query } = useLocation();
  const endpointId = query.get("endpoint") || undefined;
  const status = query.get("status") || undefined;
  const list = usePaged<Delivery>(
    "deliveries",
    (after) =>
      withQuery(`/v1/orgs/${props.orgId}/webhook-deliveries`, { limit: 20, after, endpointId, status }),
    [props.orgId, endpointId, status],
  );
  const polls = useRef(0);
  const seen = useRef("");
  useEffect(() => {
    polls.current = 0;
  }, [props.expect]);
  useEffect(() => {
    const state = list.items.map((d) => `${d.id}:${d.status}:${d.attempts}`).join();
    if (seen.current && state !== seen.current) props.onChange();
    seen.current = state;
    // A queued message shows up within a poll or two; after a minute the person can press Refresh.
    const waiting = !!props.expect && !list.items.some((d) => d.messageId === props.expect);
    const delay = pollDelay(list.items, waiting && polls.current < 60);
    if (delay === undefined || list.error) return;
    const timer = setTimeout(() => {
      polls.current++;
      list.reload();
    }, delay);
    return () => clearTimeout(timer);
  }, [list.items, list.error, props.expect]);
  const names: Record<string, string> = { "": "All endpoints" };
  for (const e of props.endpoints) names[e.id] = e.description || e.url;
  const filter = (k: string, v: string) =>
    navigate(withQuery(path, { endpoint: endpointId, status, [k]: v || undefined }));
  return (
    <>
      <div class="list-head">
        <h2>Deliveries</h2>
        <button type="button" class="small" onClick={list.reload} disabled={list.loading}>
          Refresh
        </button>
      </div>
      <form class="inline filters-row" aria-label="Filter deliveries" onSubmit={(e) => e.preventDefault()}>
        <Select
          name="endpoint"
          label="Endpoint"
          options={["", ...props.endpoints.map((e) => e.id)]}
          labels={names}
          value={endpointId ?? ""}
          onChange={(v) => filter("endpoint", v)}
        />
        <Select
          name="status"
          label="Status"
          options={STATUSES}
          labels={STATUS_WORDS}
          value={status ?? ""}
          onChange={(v) => filter("status", v)}
        />
      </form>
      <p class="muted" role="status">
        {list.loading && !list.items.length
          ? "Loading…"
          : `${list.items.length}${list.more ? "+" : ""} ${list.items.length === 1 && !list.more ? "delivery" : "deliveries"} shown, newest first.`}
      </p>
      <PagedRows
        list={list}
        label="Webhook deliveries"
        empty={
          endpointId || status
            ? "No deliveries match these filters."
            : "No deliveries yet: send a test event."
        }
        row={(d) => (
          <DeliveryRow
            key={d.id}
            d={d}
            orgId={props.orgId}
            to={names[d.endpointId]}
            onReplayed={list.reload}
          />
        )}
      />
    </>
  );
}

function DeliveryRow(props: { d: Delivery; orgId: string; to?: string; onReplayed: () => void }) {
  const { d } = props;
  const [open, setOpen] = useState(false);
  const id = useId();
  const [cls, words] = badge(d);
  return (
    <li class="row entry">
      <div id={`${id}-sum`}>
        <strong>
          <code>{d.type}</code>
        </strong>
        <span class={cls}>{words}</span>
        <p class="req">to {props.to ?? `a deleted endpoint (${d.endpointId})`}</p>
        <p class="muted">
          <time dateTime={d.createdAt}>{stamp(d.createdAt)}</time>
          {/* The API counts attempts since the last replay: the whole history is in the detail. */}
          {d.status === "pending" && d.attempts > 0
            ? ` · ${d.attempts} failed ${d.attempts === 1 ? "attempt" : "attempts"} so far`
            : ""}
          {d.lastStatus !== null ? ` · last answer HTTP ${d.lastStatus}` : ""}
          {d.nextAttemptAt ? ` · next attempt ${stamp(d.nextAttemptAt)}` : ""}
        </p>
      </div>
      <DisclosureButton
        id={id}
        open={open}
        onToggle={() => setOpen(!open)}
        show="Attempts"
        hide="Hide attempts"
      />
      {open ? <Detail id={`${id}-detail`} d={d} orgId={props.orgId} onReplayed={props.onReplayed} /> : null}
    </li>
  );
}

/**
 * One delivery with every attempt, oldest first: the status code, the time taken, the error, and the
 * start of the receiver's answer. That answer is the receiver's text, not ours: it is shown as text (a
 * JSX child, escaped), never parsed as HTML. Asked again whenever the list sees the delivery change.
 */
function Detail(props: { id: string; d: Delivery; orgId: string; onReplayed: () => void }) {
  const { d } = props;
  const [attempts, setAttempts] = useState<Attempt[]>();
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [replayed, setReplayed] = useState("");
  useEffect(() => {
    let live = true;
    api<{ attempts: Attempt[] }>("GET", `/v1/orgs/${props.orgId}/webhook-deliveries/${d.id}`).then(
      (r) => {
        if (!live) return;
        setAttempts(r.attempts);
        setError("");
      },
      (err) => live && setError(describe(err)),
    );
    return () => {
      live = false;
    };
  }, [props.orgId, d.id, d.updatedAt]);
  const replay = async () => {
    setBusy(true);
    setError("");
    setReplayed("");
    try {
      await api("POST", `/v1/orgs/${props.orgId}/webhook-deliveries/${d.id}/replay`, {});
      setReplayed("Sent again, with the same webhook-id: the receiver can tell it is the same event.");
      props.onReplayed();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="detail" id={props.id} aria-label={`Delivery ${d.id}`}>
      <h3>
        Delivery of <code>{d.type}</code>
      </h3>
      <dl class="facts">
        <dt>Delivery id</dt>
        <dd>
          <code>{d.id}</code>
        </dd>
        <dt>webhook-id</dt>
        <dd>
          <code>{d.messageId}</code>
        </dd>
        {d.lastError ? (
          <>
            <dt>Last error</dt>
            <dd>{d.lastError}</dd>
          </>
        ) : null}
      </dl>
      <h4>Attempts</h4>
      {attempts === undefined && !error ? <p class="muted">Loading…</p> : null}
      {attempts?.length === 0 ? <p class="muted">No attempt yet.</p> : null}
      <ol class="attempts">
        {attempts?.map((a, i) => (
          <li key={a.at + i}>
            <p>
              <strong>Attempt {i + 1}</strong>
              <span class={a.status !== null && a.status < 300 ? "badge" : "badge bad"}>
                {a.status === null ? "No answer" : `HTTP ${a.status}`}
              </span>
            </p>
            <p class="muted">
              <time dateTime={a.at}>{stamp(a.at)}</time> · {a.durationMs} ms
            </p>
            {a.error ? <p class="field-error">{a.error}</p> : null}
            {a.response ? (
              <>
                <p class="muted">The receiver's answer (its first 4 KB):</p>
                <pre class="json">{a.response}</pre>
              </>
            ) : null}
          </li>
        ))}
      </ol>
      {finished(d) ? (
        <div class="actions">
          <button type="button" class="small" onClick={replay} disabled={busy} aria-busy={busy}>
            {busy ? "Working…" : "Replay"}
          </button>
        </div>
      ) : null}
      <p class="muted" role="status">
        {replayed}
      </p>
      <InlineError error={error} />
    </section>
  );
}
