import { useRef, useState } from "preact/hooks";
import { ApiError, api, type FieldError, withQuery } from "../api.js";
import { str } from "../fields.js";
import { PagedRows, usePaged } from "../paged.js";
import type { Me } from "../session.js";
import {
  Checkboxes,
  ConfirmButton,
  Field,
  Form,
  Notice,
  Page,
  Select,
  ShownOnce,
  TextArea,
  when,
} from "../ui.js";
import { isManager, type Org } from "./orgs.js";

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  allowedOrigins: string[];
  allowedIps: string[];
  status: "active" | "grace" | "revoked" | "expired";
  expiresAt: string | null;
  revokedAt: string | null;
  rotatedTo: string | null;
  createdBy: string;
  createdAt: string;
  lastUsedAt: string | null;
}
/** A key as created or rotated: the only answers that hold the key itself. */
interface Minted {
  apiKey: ApiKey;
  key: string;
  previous?: ApiKey;
}

/** How long a rotated key keeps working: the choices offered (seconds), and their words. */
const GRACE: Record<string, string> = {
  "0": "Stop it now",
  "3600": "1 hour",
  "86400": "24 hours",
  "604800": "7 days",
};

const BADGE: Record<ApiKey["status"], [string, string]> = {
  active: ["badge", "Active"],
  grace: ["badge warn", "Grace period"],
  revoked: ["badge off", "Revoked"],
  expired: ["badge off", "Expired"],
};

/** Values typed one per line (commas and spaces separate too: neither occurs in an origin or an address). */
const entries = (d: FormData, k: string): string[] =>
  str(d, k)
    .split(/[\s,]+/)
    .filter(Boolean);

/** `scheme://host[:port]` and nothing more, as the server checks it: what a browser sends in `Origin`. */
function isOrigin(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === "https:" || u.protocol === "http:") && u.origin === value;
  } catch {
    return false;
  }
}

/** The last moment of a chosen day ("valid until" includes the day), in the person's time zone. */
function endOfDay(date: string): string {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(y ?? 0, (m ?? 1) - 1, d ?? 1, 23, 59, 59, 999).toISOString();
}

const today = (): string => {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
};

/**
 * The create form's answers as the API's body. What the server would refuse for a reason a person can fix
 * here (no scope, an origin with a path or a trailing slash) is refused first, with every bad line named.
 */
function newKeyBody(d: FormData) {
  const scopes = d.getAll("scopes").map(String);
  const allowedOrigins = entries(d, "allowedOrigins");
  const problems: FieldError[] = [];
  if (!scopes.length) problems.push({ in: "body", field: "scopes", message: "Choose at least one scope." });
  const bad = allowedOrigins.filter((o) => !isOrigin(o));
  if (bad.length)
    problems.push({
      in: "body",
      field: "allowedOrigins",
      message: `Not an origin: ${bad.map((o) => `“${o}”`).join(", ")}. Write each as https://host or https://host:port, with no path and no trailing slash.`,
    });
  if (problems.length) throw new ApiError(400, "VALIDATION_FAILED", "Check the fields.", problems);
  const until = str(d, "expiresAt");
  return {
    name: str(d, "name").trim(),
    scopes,
    expiresAt: until ? endOfDay(until) : null,
    allowedOrigins,
    allowedIps: entries(d, "allowedIps"),
  };
}

/**
 * API keys of an organisation (KEY-1…KEY-6): the list, a new key, rotation with a grace period, and
 * revocation. Only owners and admins hold `apikeys:manage`; the tab is theirs, and anyone else who
 * follows a link here is told so without a refused request.
 */
export function ApiKeys(props: { org: Org; me: Me }) {
  if (!isManager(props.org))
    return (
      <Page title={`${props.org.name}: API keys`}>
        <p class="muted">Only owners and admins manage this organisation's API keys.</p>
      </Page>
    );
  return <ManageKeys {...props} />;
}

function ManageKeys(props: { org: Org; me: Me }) {
  const { org } = props;
  const [shown, setShown] = useState<Minted | null>(null);
  const [message, setMessage] = useState("");
  const keysHeading = useRef<HTMLHeadingElement>(null);
  const list = usePaged<ApiKey>(
    "apiKeys",
    (before) => withQuery(`/v1/orgs/${org.id}/api-keys`, { limit: 20, before }),
    [org.id],
  );
  const grantable = (list.page?.scopes as string[] | undefined) ?? [];
  const minted = (m: Minted) => {
    setMessage("");
    setShown(m);
    list.reload();
  };
  const done = (m: string) => {
    setShown(null);
    setMessage(m);
    list.reload();
  };
  return (
    <Page
      title={`${org.name}: API keys`}
      lead="Keys let your own programs call this organisation's API. A key can do only what its scopes allow."
    >
      {shown ? (
        <NewKey
          minted={shown}
          onDone={() => {
            setShown(null);
            keysHeading.current?.focus();
          }}
        />
      ) : null}
      {message ? <Notice kind="ok">{message}</Notice> : null}
      <h2 tabIndex={-1} ref={keysHeading}>
        Keys
      </h2>
      <PagedRows
        list={list}
        label="API keys"
        showLoading
        empty="No API keys yet."
        row={(k) => (
          <KeyRow
            key={k.id}
            k={k}
            org={org}
            me={props.me}
            grantable={grantable}
            successor={list.items.find((s) => s.id === k.rotatedTo)}
            onRotated={minted}
            onRevoked={done}
          />
        )}
      />
      {list.page ? (
        <>
          <h2>New key</h2>
          <div class="card">
            <Form
              submit="Create key"
              label="New API key"
              resetOnSuccess
              onSubmit={async (d) =>
                minted(await api<Minted>("POST", `/v1/orgs/${org.id}/api-keys`, newKeyBody(d)))
              }
            >
              <Field
                name="name"
                label="Name"
                required
                maxLength={100}
                autoComplete="off"
                hint="What uses it, so you recognise it later: “Billing sync”, “Staging importer”."
              />
              <Checkboxes
                name="scopes"
                legend="Scopes"
                options={grantable}
                code
                hint="Choose at least one. You can grant only what your own role may do."
              />
              <Field
                name="expiresAt"
                label="Valid until (optional)"
                type="date"
                min={today()}
                hint="The key stops working at the end of this day, in your time zone. Leave empty for no expiry."
              />
              <TextArea
                name="allowedOrigins"
                label="Allowed origins (optional)"
                rows={2}
                placeholder="https://app.example.org"
                hint="One per line. A browser page on any other site is refused; calls that send no Origin (servers, scripts) are not limited by this."
              />
              <TextArea
                name="allowedIps"
                label="Allowed IP addresses (optional)"
                rows={2}
                placeholder="203.0.113.0/24"
                hint="One per line: IPv4 or IPv6 addresses or CIDR ranges. Calls from anywhere else are refused."
              />
            </Form>
          </div>
        </>
      ) : null}
    </Page>
  );
}

/**
 * The key itself, right after it was made: shown this once (the server keeps only its hash), with a Copy
 * button and, should the clipboard be refused, the text selected for the person to copy by hand.
 */
function NewKey(props: { minted: Minted; onDone: () => void }) {
  const { apiKey, key, previous } = props.minted;
  return (
    <ShownOnce
      id="new-key-title"
      title={previous ? `The new key for ${apiKey.name}` : `Your new key: ${apiKey.name}`}
      secret={key}
      noun="key"
      testId="new-key"
      warning="Bulwark keeps only a hash of it. Store it in your secret manager; if it is lost, rotate the key."
      onDone={props.onDone}
    >
      {previous ? (
        <p>
          The old key <code>{previous.prefix}…</code>{" "}
          {previous.status === "grace" && previous.revokedAt
            ? `keeps working until ${when(previous.revokedAt)}: move your programs to the new one before then.`
            : "no longer works."}
        </p>
      ) : null}
      <p class="muted">
        Send it in the <code>X-API-Key</code> header, or as <code>Authorization: Bearer …</code>.
      </p>
    </ShownOnce>
  );
}

function KeyRow(props: {
  k: ApiKey;
  org: Org;
  me: Me;
  grantable: readonly string[];
  successor?: ApiKey;
  onRotated: (m: Minted) => void;
  onRevoked: (message: string) => void;
}) {
  const { k, org } = props;
  const [badge, status] = BADGE[k.status];
  const live = k.status === "active" || k.status === "grace";
  // A rotation hands on every scope of the key: the server refuses one whose scopes this person lacks.
  const rotatable =
    k.status === "active" && !k.rotatedTo && k.scopes.every((s) => props.grantable.includes(s));
  const state =
    k.status === "grace" && k.revokedAt
      ? `works until ${when(k.revokedAt)}`
      : k.status === "revoked" && k.revokedAt
        ? `revoked ${when(k.revokedAt)}`
        : k.expiresAt
          ? `${k.status === "expired" ? "expired" : "expires"} ${when(k.expiresAt)}`
          : "no expiry";
  return (
    <li class="row">
      <div>
        <strong>{k.name}</strong> <span class={badge}>{status}</span>
        <p class="muted">
          <code>{k.prefix}…</code> · created {when(k.createdAt)}
          {k.createdBy === props.me.user.id ? " by you" : ""}
          {props.successor ? (
            <>
              {" "}
              · replaced by <code>{props.successor.prefix}…</code>
            </>
          ) : null}
        </p>
        <ul class="chips" aria-label={`Scopes of ${k.name}`}>
          {k.scopes.map((s) => (
            <li key={s}>
              <code>{s}</code>
            </li>
          ))}
        </ul>
        <p class="muted">
          {state} · {k.lastUsedAt ? `last used ${when(k.lastUsedAt)}` : "never used"}
        </p>
        {k.allowedOrigins.length ? (
          <p class="muted">Only from pages on {k.allowedOrigins.join(", ")}</p>
        ) : null}
        {k.allowedIps.length ? <p class="muted">Only from {k.allowedIps.join(", ")}</p> : null}
      </div>
      {live ? (
        <div class="row-actions">
          {rotatable ? <RotateButton k={k} org={org} onRotated={props.onRotated} /> : null}
          <ConfirmButton
            small
            label="Revoke"
            title={`Revoke ${k.name}?`}
            confirm="Revoke key"
            onConfirm={async () => {
              await api("DELETE", `/v1/orgs/${org.id}/api-keys/${k.id}`);
              props.onRevoked(`${k.name} (${k.prefix}…) was revoked.`);
            }}
          >
            <p>
              {k.status === "grace"
                ? "This old key stops working now instead of at the end of its grace period. Its replacement keeps working."
                : "Programs using it are refused from their next request. This cannot be undone."}
            </p>
          </ConfirmButton>
          {k.status === "active" && !rotatable ? (
            <p class="hint">It holds a scope your role lacks: only an owner can rotate it.</p>
          ) : null}
        </div>
      ) : null}
    </li>
  );
}

function RotateButton(props: { k: ApiKey; org: Org; onRotated: (m: Minted) => void }) {
  const { k, org } = props;
  const [grace, setGrace] = useState("86400");
  return (
    <ConfirmButton
      small
      tone="plain"
      label="Rotate"
      title={`Rotate ${k.name}?`}
      confirm="Rotate key"
      onConfirm={async () => {
        const r = await api<Minted>("POST", `/v1/orgs/${org.id}/api-keys/${k.id}/rotate`, {
          gracePeriodSeconds: Number(grace),
        });
        props.onRotated(r);
      }}
    >
      <p>
        A new key replaces it, with the same scopes, limits and expiry, and works at once. The old key keeps
        working for the time you choose{k.expiresAt ? ", never past its own expiry" : ""}.
      </p>
      <Select
        name="grace"
        label="The old key keeps working for"
        options={Object.keys(GRACE)}
        labels={GRACE}
        value={grace}
        onChange={setGrace}
      />
    </ConfirmButton>
  );
}
