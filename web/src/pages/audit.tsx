import { useEffect, useId, useState } from "preact/hooks";
import { api, withQuery } from "../api.js";
import { type AuditKey, type Proof, type Verdict, verifyProof } from "../audit-proof.js";
import { describe } from "../messages.js";
import { PagedRows, usePaged } from "../paged.js";
import { navigate, useLocation } from "../router.js";
import { DisclosureButton, Page } from "../ui.js";
import { isManager, type Org } from "./orgs.js";

interface Actor {
  type: string;
  id: string | null;
  email: string | null;
}
interface RequestFacts {
  method: string;
  route: string;
  status: number;
  durationMs: number;
  ip: string;
  userAgent: string | null;
  requestId: string;
}
/** An entry as the API lists it (src/audit/entry.ts); after retention only its frame is left (`purged`). */
export interface Entry {
  v: number;
  log: string;
  seq: number;
  id: string;
  time: string;
  type: string;
  action: string;
  actor?: Actor;
  impersonator?: string | null;
  org?: string | null;
  entity?: { type: string; id: string } | null;
  before?: unknown;
  after?: unknown;
  metadata?: unknown;
  request?: RequestFacts | null;
  purged?: boolean;
}

/** The filters the list routes take, kept in the screen's address so a filtered view can be shared. */
const FILTERS = ["actor", "action", "entityType", "entityId", "from", "to"] as const;
type Filter = (typeof FILTERS)[number];
const LABELS: Record<Filter, [string, string]> = {
  actor: ["Actor id", "usr_… or key_…"],
  action: ["Action", "http.request"],
  entityType: ["Entity type", "api_key"],
  entityId: ["Entity id", ""],
  from: ["From (day)", ""],
  to: ["Until (day, included)", ""],
};

/** A chosen day (YYYY-MM-DD), `days` later, as the instant it starts in the person's time zone. */
function dayStart(date: string, days = 0): string | undefined {
  const [y, m, d] = date.split("-").map(Number);
  if (!y || !m || !d) return undefined;
  return new Date(y, m - 1, d + days).toISOString();
}

/** The address's filters as the API's query: days become instants, "until" includes its day. */
function apiFilters(query: URLSearchParams): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const f of FILTERS) out[f] = query.get(f)?.trim() || undefined;
  out.from = out.from && dayStart(out.from);
  out.to = out.to && dayStart(out.to, 1);
  return out;
}

const stamp = (iso: string): string =>
  new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });

const ACTOR_TYPES: Record<string, string> = {
  USER: "User",
  ADMIN: "Platform admin",
  API_KEY: "API key",
  SYSTEM: "Bulwark itself",
  ANONYMOUS: "Not signed in",
};
const actorWords = (a?: Actor | null): string =>
  !a ? "—" : (a.email ?? a.id ?? ACTOR_TYPES[a.type] ?? a.type.toLowerCase());

/**
 * The filter form: each field starts from the address, and applying it navigates there, so the list, a
 * reload and a shared link all show the same entries. Closed until a filter is in use.
 */
function Filters(props: { log?: boolean }) {
  const { path, query } = useLocation();
  const id = useId();
  const active = FILTERS.filter((f) => query.get(f)).length + (props.log && query.get("log") ? 1 : 0);
  return (
    <details class="filters" open={active > 0}>
      <summary>Filter entries{active ? ` (${active} in use)` : ""}</summary>
      <form
        key={query.toString()}
        aria-label="Filter entries"
        onSubmit={(e) => {
          e.preventDefault();
          const d = new FormData(e.currentTarget);
          const q: Record<string, string> = {};
          for (const [k, v] of d) if (k !== "scope") q[k] = String(v).trim();
          if (props.log && d.get("scope") !== "org") q.log = String(d.get("scope") ?? "");
          navigate(withQuery(path, q));
        }}
      >
        {props.log ? <LogPicker value={query.get("log") ?? ""} /> : null}
        {FILTERS.map((f) => (
          <div class="field" key={f}>
            <label for={`${id}-${f}`}>{LABELS[f][0]}</label>
            <input
              id={`${id}-${f}`}
              name={f}
              // One cast, as in ui.tsx: preact types each input type separately.
              type={(f === "from" || f === "to" ? "date" : "text") as "text"}
              defaultValue={query.get(f) ?? ""}
              placeholder={LABELS[f][1] || undefined}
              maxLength={64}
              autoComplete="off"
              spellcheck={false}
            />
          </div>
        ))}
        <div class="actions">
          <button type="submit" class="primary">
            Apply filters
          </button>
          {active ? (
            <a class="button" href={path}>
              Clear filters
            </a>
          ) : null}
        </div>
      </form>
    </details>
  );
}

/** Which log a platform admin reads: every one, the platform's own, or one organisation's. */
function LogPicker(props: { value: string }) {
  const id = useId();
  const [scope, setScope] = useState(props.value.startsWith("org_") ? "org" : props.value);
  return (
    <>
      <div class="field">
        <label for={`${id}-scope`}>Log</label>
        <select
          id={`${id}-scope`}
          name="scope"
          value={scope}
          onChange={(e) => setScope(e.currentTarget.value)}
        >
          <option value="">Every log</option>
          <option value="platform">The platform's own</option>
          <option value="org">One organisation's</option>
        </select>
      </div>
      {scope === "org" ? (
        <div class="field">
          <label for={`${id}-log`}>Organisation id</label>
          <input
            id={`${id}-log`}
            name="log"
            required
            pattern="org_[0-9A-Z]{26}"
            defaultValue={props.value.startsWith("org_") ? props.value : ""}
            placeholder="org_…"
            autoComplete="off"
            spellcheck={false}
          />
        </div>
      ) : null}
    </>
  );
}

/** The list of a log, newest first, with each entry's details (and, for an organisation, its proof). */
function Entries(props: { url: string; orgId?: string; showLog?: boolean }) {
  const { query } = useLocation();
  const filters = apiFilters(query);
  // The admin's log choice is a filter of its route; an organisation's route is its log.
  if (props.showLog) filters.log = query.get("log") || undefined;
  const list = usePaged<Entry>("items", (cursor) => withQuery(props.url, { ...filters, limit: 25, cursor }), [
    props.url,
    query.toString(),
  ]);
  const filtered = Object.entries(filters).some(([k, v]) => v && k !== "log");
  return (
    <>
      <div class="list-head">
        <h2>Entries</h2>
        <button type="button" class="small" onClick={list.reload} disabled={list.loading}>
          Refresh
        </button>
      </div>
      <p class="muted" role="status">
        {list.loading
          ? "Loading…"
          : `${list.items.length}${list.more ? "+" : ""} entries shown, newest first.`}
      </p>
      <PagedRows
        list={list}
        label="Audit entries"
        empty={filtered ? "No entries match these filters." : "No entries yet."}
        row={(e) => <EntryRow key={`${e.log}/${e.seq}`} e={e} orgId={props.orgId} showLog={props.showLog} />}
      />
    </>
  );
}

function EntryRow(props: { e: Entry; orgId?: string; showLog?: boolean }) {
  const { e } = props;
  const [open, setOpen] = useState(false);
  const id = useId();
  const r = e.request;
  return (
    <li class="row entry">
      <div id={`${id}-sum`}>
        <strong>
          <code>{e.action}</code>
        </strong>
        {r ? <span class={r.status >= 400 ? "badge warn" : "badge"}>HTTP {r.status}</span> : null}
        {e.purged ? <span class="badge off">content removed</span> : null}
        {r ? (
          <p class="req">
            <code>
              {r.method} {r.route}
            </code>
          </p>
        ) : null}
        <p class="muted">
          <time dateTime={e.time}>{stamp(e.time)}</time> · {actorWords(e.actor)}
          {e.impersonator ? ` (impersonated by ${e.impersonator})` : ""}
          {e.entity ? ` · ${e.entity.type} ${e.entity.id}` : ""}
          {props.showLog ? ` · log ${e.log}` : ""}
        </p>
      </div>
      <DisclosureButton
        id={id}
        open={open}
        onToggle={() => setOpen(!open)}
        show="Details"
        hide="Hide details"
      />
      {open ? <Detail id={`${id}-detail`} e={e} orgId={props.orgId} /> : null}
    </li>
  );
}

/** A fact of the detail list; nothing is shown for a fact the entry does not have. */
function Fact(props: { term: string; value?: preact.ComponentChildren }) {
  if (props.value === undefined || props.value === null || props.value === "") return null;
  return (
    <>
      <dt>{props.term}</dt>
      <dd>{props.value}</dd>
    </>
  );
}

function Json(props: { title: string; value: unknown }) {
  if (props.value === undefined || props.value === null) return null;
  return (
    <div>
      <h4>{props.title}</h4>
      <pre class="json">{JSON.stringify(props.value, null, 2)}</pre>
    </div>
  );
}

/** One entry in full: every field, the request's facts, the changes, and the proof of its inclusion. */
function Detail(props: { id: string; e: Entry; orgId?: string }) {
  const { e } = props;
  const { path, query } = useLocation();
  const r = e.request;
  const only = (q: Record<string, string>) => withQuery(path, { ...Object.fromEntries(query), ...q });
  return (
    <section class="detail" id={props.id} aria-label={`Entry ${e.seq} of log ${e.log}`}>
      <h3>Entry {e.seq}</h3>
      <dl class="facts">
        <Fact term="Id" value={<code>{e.id}</code>} />
        <Fact term="Log, position" value={`${e.log}, #${e.seq}`} />
        <Fact term="Time" value={<time dateTime={e.time}>{`${stamp(e.time)} (${e.time})`}</time>} />
        <Fact term="Kind" value={e.type === "request" ? "Request record" : "Event"} />
        <Fact term="Action" value={<code>{e.action}</code>} />
        {e.actor ? (
          <Fact
            term="Actor"
            value={[ACTOR_TYPES[e.actor.type] ?? e.actor.type, e.actor.email, e.actor.id]
              .filter(Boolean)
              .join(" · ")}
          />
        ) : null}
        <Fact term="Impersonated by" value={e.impersonator} />
        <Fact term="Organisation" value={e.org} />
        <Fact term="Entity" value={e.entity ? `${e.entity.type} ${e.entity.id}` : undefined} />
      </dl>
      {e.purged ? (
        <p class="notice info">
          Retention removed this entry's content. Its leaf hash stays in the log, so the log still verifies.
        </p>
      ) : null}
      {r ? (
        <>
          <h4>Request</h4>
          <dl class="facts">
            <Fact term="Method, route" value={<code>{`${r.method} ${r.route}`}</code>} />
            <Fact term="Status" value={String(r.status)} />
            <Fact term="Duration" value={`${r.durationMs} ms`} />
            <Fact term="IP address" value={r.ip} />
            <Fact term="User agent" value={r.userAgent} />
            <Fact term="Request id" value={<code>{r.requestId}</code>} />
          </dl>
        </>
      ) : null}
      <div class="changes">
        <Json title="Before" value={e.before} />
        <Json title="After" value={e.after} />
        <Json title="Metadata" value={e.metadata} />
      </div>
      <p class="links">
        {e.actor?.id ? <a href={only({ actor: e.actor.id })}>Only this actor's entries</a> : null}
        {e.entity ? (
          <a href={only({ entityType: e.entity.type, entityId: e.entity.id })}>Only this entity's entries</a>
        ) : null}
      </p>
      {props.orgId ? <ProofStatus orgId={props.orgId} e={e} /> : null}
    </section>
  );
}

/** The published checkpoint keys, asked once per page load. */
let keys: Promise<{ keys: AuditKey[]; origin: string }> | undefined;

/**
 * The entry's inclusion proof, fetched and checked here (audit-proof.ts): the verdict is this browser's,
 * not the server's.
 */
function ProofStatus(props: { orgId: string; e: Entry }) {
  const { e } = props;
  const [state, setState] = useState<Verdict | null>(null);
  const [proof, setProof] = useState<Proof>();
  useEffect(() => {
    let live = true;
    const loadKeys = (fresh: boolean) => {
      if (fresh) keys = undefined;
      keys ??= api<{ keys: AuditKey[]; origin: string }>("GET", "/.well-known/audit-keys.json").catch(
        (err) => {
          keys = undefined;
          throw err;
        },
      );
      return keys;
    };
    api<Proof>("GET", `/v1/orgs/${props.orgId}/audit-events/${e.id}/proof`)
      .then(async (p) => {
        if (live) setProof(p);
        const check = async (fresh: boolean) => {
          const k = await loadKeys(fresh);
          return verifyProof(
            e as unknown as Record<string, unknown>,
            p,
            k.keys,
            k.origin.replace("{log}", e.log),
          );
        };
        // The keys are cached for the page; a key first used after they were fetched is fetched again.
        const v = await check(false);
        return !v.ok && v.reason.includes("published key") ? check(true) : v;
      })
      .then(
        (v) => live && setState(v),
        (err) => live && setState({ ok: false, reason: `The proof could not be fetched: ${describe(err)}` }),
      );
    return () => {
      live = false;
    };
  }, [props.orgId, e.id]);
  return (
    <>
      <h4>Inclusion proof</h4>
      <div class={`notice ${!state ? "info" : state.ok ? "ok" : "error"}`} role="status">
        {!state ? (
          "Checking the inclusion proof…"
        ) : state.ok ? (
          <>
            <strong>Verified.</strong> Included in signed checkpoint of {state.size.toLocaleString()}{" "}
            {state.size === 1 ? "entry" : "entries"} (key <code>{state.keyId}</code>).
            <span class="hint">
              {" "}
              Checked in this browser:{" "}
              {state.content === "match"
                ? "the entry hashes to its leaf, "
                : "the entry's content was removed by retention, its leaf hash stands in for it; "}
              the audit path leads to the checkpoint's root
              {state.signature === "checked"
                ? ", and the checkpoint's Ed25519 signature is valid."
                : ". This browser cannot check Ed25519 signatures; check the export bundle with bulwark audit verify."}
            </span>
          </>
        ) : (
          <>
            <strong>Not verified.</strong> {state.reason}
          </>
        )}
      </div>
      {proof ? (
        <details>
          <summary>Proof data</summary>
          <dl class="facts">
            <Fact term="Leaf index" value={String(proof.leafIndex)} />
            <Fact term="Leaf hash" value={<code>{proof.leafHash}</code>} />
            <Fact term="Path" value={`${proof.proof.length} hashes`} />
            <Fact term="Root" value={<code>{proof.checkpoint.root}</code>} />
            <Fact term="Signed" value={stamp(proof.checkpoint.createdAt)} />
          </dl>
          <pre class="json">{proof.checkpoint.note}</pre>
        </details>
      ) : null}
    </>
  );
}

/** Download links: plain GETs the session cookie carries; the server names the file. */
function Exports(props: { orgId: string }) {
  const filters = apiFilters(useLocation().query);
  const url = (format: string, f = {}) =>
    withQuery(`/v1/orgs/${props.orgId}/audit-events/export`, { format, ...f });
  return (
    <>
      <h2>Export</h2>
      <p class="muted export">
        NDJSON and CSV hold the entries the filters select, oldest first. The bundle holds the whole log with
        its signed checkpoints and keys, for <code>bulwark audit verify --bundle</code>.
      </p>
      <div class="actions">
        <a class="button" href={url("ndjson", filters)} download>
          Download NDJSON
        </a>
        <a class="button" href={url("csv", filters)} download>
          Download CSV
        </a>
        <a class="button" href={url("bundle")} download>
          Download verification bundle
        </a>
      </div>
    </>
  );
}

/**
 * An organisation's audit log (AUDIT-1…AUDIT-5), for holders of `audit:read` (owners and admins): the
 * entries newest first, filtered, each with its details and its inclusion proof checked in the browser,
 * and the exports.
 */
export function OrgAudit(props: { org: Org }) {
  const { org } = props;
  const title = `${org.name}: audit log`;
  if (!isManager(org))
    return (
      <Page title={title}>
        <p class="muted">Only owners and admins read this organisation's audit log.</p>
      </Page>
    );
  return (
    <Page
      title={title}
      lead="Every change made in this organisation, who made it and from where. Entries cannot be altered: each is in a signed, append-only tree."
    >
      <Filters />
      <Entries url={`/v1/orgs/${org.id}/audit-events`} orgId={org.id} />
      <Exports orgId={org.id} />
    </Page>
  );
}

/** Every log, for platform admins: the platform's own (sign-ins, admin actions) and each organisation's. */
export function AdminAudit() {
  return (
    <Page title="Audit log" lead="Every log: the platform's own, and each organisation's. Newest first.">
      <Filters log />
      <Entries url="/v1/admin/audit-events" showLog />
    </Page>
  );
}
