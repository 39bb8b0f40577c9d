import { useRef, useState } from "preact/hooks";
import { ApiError, api } from "../api.js";
import { str } from "../fields.js";
import { describe } from "../messages.js";
import { ConfirmButton, Field, Form, InlineError, TextArea, when } from "../ui.js";

/** An endpoint as the API shows it (src/webhooks/plugin.ts): never its secret. */
export interface Endpoint {
  id: string;
  url: string;
  description: string;
  eventTypes: string[];
  enabled: boolean;
  disabledReason: "manual" | "gone" | null;
  legacySignature: boolean;
  breaker: { state: "closed" | "open" | "half_open"; consecutiveFailures: number; until: string | null };
  previousSecretValidUntil: string | null;
}
/** An endpoint as created or rotated: the only answers that hold its signing secret. */
export interface WithSecret {
  endpoint: Endpoint;
  secret: string;
}

/** `entity.verb`, as the server's schema has it: checked here so every bad line is named at once. */
const EVENT_TYPE = /^[a-z][a-z0-9_]{0,30}(\.[a-z][a-z0-9_]{0,30}){1,3}$/;

/** What the person calls an endpoint: the description they gave it, else its address. */
export const nameOf = (e: Endpoint) => e.description || e.url;

/**
 * The form's answers as the API's body. Event types are typed one per line (commas and spaces separate
 * too: neither occurs in a type); none means every type. A malformed line is refused here, by name.
 */
export function endpointBody(d: FormData) {
  const eventTypes = [
    ...new Set(
      str(d, "eventTypes")
        .split(/[\s,]+/)
        .filter(Boolean),
    ),
  ];
  const bad = eventTypes.filter((t) => !EVENT_TYPE.test(t));
  if (bad.length)
    throw new ApiError(400, "VALIDATION_FAILED", "Check the fields.", [
      {
        in: "body",
        field: "eventTypes",
        message: `Not an event type: ${bad.map((t) => `“${t}”`).join(", ")}. Write each as entity.action in lower case, such as member.role_changed.`,
      },
    ]);
  return { url: str(d, "url").trim(), description: str(d, "description").trim(), eventTypes };
}

/** The fields of a new endpoint and of an edit, started from `e` when editing. */
export function EndpointFields(props: { e?: Endpoint }) {
  return (
    <>
      <Field
        name="url"
        label="URL"
        required
        maxLength={2048}
        autoComplete="off"
        placeholder="https://hooks.example.org/bulwark"
        defaultValue={props.e?.url}
        hint="Where Bulwark sends each event with a POST. It must be https and reach a public address."
      />
      <Field
        name="description"
        label="Description (optional)"
        maxLength={200}
        autoComplete="off"
        defaultValue={props.e?.description}
        hint="What receives them, so you recognise it later: “Billing service”, “Slack relay”."
      />
      <TextArea
        name="eventTypes"
        label="Event types (optional)"
        rows={3}
        placeholder="member.role_changed"
        defaultValue={props.e?.eventTypes.join("\n")}
        hint="One per line. Empty: every event. Bulwark's own include org.updated, member.role_changed, member.removed, invitation.created, invitation.accepted, apikey.created and apikey.revoked; your app's events have the types it gives them."
      />
    </>
  );
}

/** An endpoint's health in words: why it is off, or what its circuit breaker is doing (HOOK-5). */
function health(e: Endpoint): [string, string] {
  if (!e.enabled)
    return e.disabledReason === "gone"
      ? ["badge bad", "Off: the receiver answered 410 Gone"]
      : ["badge off", "Off"];
  if (e.breaker.state === "open") return ["badge bad", "Paused after failures"];
  if (e.breaker.state === "half_open") return ["badge warn", "Trying again"];
  return ["badge", "On"];
}

/**
 * One endpoint: its address, description, event filter and health, and what can be done to it. A
 * failed action is said next to its buttons; a done one goes up to the screen's notice.
 */
export function EndpointRow(props: {
  e: Endpoint;
  orgId: string;
  onRotated: (m: WithSecret) => void;
  onDone: (message: string, messageId?: string) => void;
  onDeleted: (message: string) => void;
}) {
  const { e } = props;
  const url = `/v1/orgs/${props.orgId}/webhook-endpoints/${e.id}`;
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const editButton = useRef<HTMLButtonElement>(null);
  const [cls, words] = health(e);
  const act = async (run: () => Promise<void>) => {
    setBusy(true);
    setError("");
    try {
      await run();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };
  const test = () =>
    act(async () => {
      const r = await api<{ messageId: string }>("POST", `${url}/test`, {});
      props.onDone(`A test event is on its way to ${nameOf(e)}: see it under Deliveries.`, r.messageId);
    });
  const toggle = () =>
    act(async () => {
      await api("PATCH", url, { enabled: !e.enabled });
      props.onDone(e.enabled ? `${nameOf(e)} is off: nothing is sent to it.` : `${nameOf(e)} is on again.`);
    });
  return (
    <li class="row">
      <div>
        <strong class="url">{e.url}</strong>
        <span class={cls}>{words}</span>
        {e.description ? <p>{e.description}</p> : null}
        {e.eventTypes.length ? (
          <ul class="chips" aria-label={`Event types sent to ${nameOf(e)}`}>
            {e.eventTypes.map((t) => (
              <li key={t}>
                <code>{t}</code>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">Every event type</p>
        )}
        <p class="muted">
          {e.breaker.consecutiveFailures
            ? `${e.breaker.consecutiveFailures} failed ${e.breaker.consecutiveFailures === 1 ? "attempt" : "attempts"} in a row`
            : "No failures"}
          {e.breaker.state === "open" && e.breaker.until ? ` · next try ${when(e.breaker.until)}` : ""}
          {e.previousSecretValidUntil
            ? ` · previous secret signs until ${when(e.previousSecretValidUntil)}`
            : ""}
          {e.legacySignature ? " · also sends the legacy X-Webhook-Signature header" : ""}
        </p>
      </div>
      <div class="row-actions">
        {e.enabled ? (
          <button type="button" class="small" onClick={test} disabled={busy}>
            Send test event
          </button>
        ) : null}
        <button type="button" class="small" onClick={toggle} disabled={busy}>
          {e.enabled ? "Turn off" : "Turn on"}
        </button>
        <button
          type="button"
          class="small"
          ref={editButton}
          aria-expanded={editing}
          aria-controls={`edit-${e.id}`}
          onClick={() => setEditing(!editing)}
        >
          {editing ? "Cancel edit" : "Edit"}
        </button>
        <ConfirmButton
          small
          tone="plain"
          label="Rotate secret"
          title={`Rotate the secret of ${nameOf(e)}?`}
          confirm="Rotate secret"
          onConfirm={async () => props.onRotated(await api<WithSecret>("POST", `${url}/rotate-secret`, {}))}
        >
          <p>
            A new secret signs every delivery from now on. The current one keeps signing beside it for the
            grace period, so your server can switch to the new one without missing a delivery.
          </p>
        </ConfirmButton>
        <ConfirmButton
          small
          label="Delete"
          title={`Delete ${nameOf(e)}?`}
          confirm="Delete endpoint"
          onConfirm={async () => {
            await api("DELETE", url);
            props.onDeleted(`${nameOf(e)} was deleted.`);
          }}
        >
          <p>
            Nothing more is sent to it, retries included. Its past deliveries stay listed. This cannot be
            undone.
          </p>
        </ConfirmButton>
      </div>
      <InlineError error={error} />
      {editing ? (
        <section class="detail" id={`edit-${e.id}`} aria-label={`Edit ${nameOf(e)}`}>
          <Form
            submit="Save changes"
            label={`Edit ${nameOf(e)}`}
            onSubmit={async (d) => {
              const saved = await api<Endpoint>("PATCH", url, endpointBody(d));
              setEditing(false);
              editButton.current?.focus();
              props.onDone(`${nameOf(saved)} was saved.`);
            }}
          >
            <EndpointFields e={e} />
          </Form>
        </section>
      ) : null}
    </li>
  );
}
