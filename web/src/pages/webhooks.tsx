import { useRef, useState } from "preact/hooks";
import { api } from "../api.js";
import { Form, Loading, Notice, Page, ShownOnce, useLoad, when } from "../ui.js";
import { isManager, type Org } from "./orgs.js";
import { Deliveries } from "./webhook-deliveries.js";
import {
  type Endpoint,
  EndpointFields,
  EndpointRow,
  endpointBody,
  nameOf,
  type WithSecret,
} from "./webhook-endpoint.js";

/**
 * Webhooks of an organisation (HOOK-1…HOOK-7): its endpoints, a new one with its signing secret shown
 * once, editing, pausing, rotation with a grace period, a test event, and every delivery with its
 * attempts and replay. Managing them needs `webhooks:manage` (owners and admins); anyone else who follows
 * a link here is told so without a refused request.
 */
export function Webhooks(props: { org: Org }) {
  if (!isManager(props.org))
    return (
      <Page title={`${props.org.name}: webhooks`}>
        <p class="muted">Only owners and admins manage this organisation's webhooks.</p>
      </Page>
    );
  return <ManageWebhooks org={props.org} />;
}

function ManageWebhooks(props: { org: Org }) {
  const { org } = props;
  const [shown, setShown] = useState<{ made: WithSecret; rotated: boolean } | null>(null);
  const [message, setMessage] = useState("");
  const [expect, setExpect] = useState<string>();
  const heading = useRef<HTMLHeadingElement>(null);
  const list = useLoad(
    () => api<{ endpoints: Endpoint[] }>("GET", `/v1/orgs/${org.id}/webhook-endpoints`),
    [org.id],
  );
  const endpoints = list.data?.endpoints ?? [];
  const minted = (made: WithSecret, rotated: boolean) => {
    setMessage("");
    setShown({ made, rotated });
    list.reload();
  };
  // A row action leaves a secret on show alone: only "I have stored it" puts it away (it is never shown again).
  const done = (m: string, messageId?: string) => {
    setMessage(m);
    if (messageId) setExpect(messageId);
    list.reload();
  };
  return (
    <Page
      title={`${org.name}: webhooks`}
      lead="Webhooks send this organisation's events to your own servers as they happen, each signed so your server can check it came from Bulwark (Standard Webhooks)."
    >
      {shown ? (
        <NewSecret
          {...shown}
          onDone={() => {
            setShown(null);
            heading.current?.focus();
          }}
        />
      ) : null}
      {message ? <Notice kind="ok">{message}</Notice> : null}
      <h2 tabIndex={-1} ref={heading}>
        Endpoints
      </h2>
      {list.error ? <Notice kind="error">{list.error}</Notice> : null}
      {!list.data && !list.error ? <Loading /> : null}
      {list.data && !endpoints.length ? (
        <p class="muted">No endpoints yet: add one under New endpoint.</p>
      ) : null}
      <ul class="rows" aria-label="Webhook endpoints">
        {endpoints.map((e) => (
          <EndpointRow
            key={e.id}
            e={e}
            orgId={org.id}
            onRotated={(m) => minted(m, true)}
            onDone={done}
            onDeleted={(m) => {
              done(m);
              heading.current?.focus();
            }}
          />
        ))}
      </ul>
      {list.data ? (
        <Deliveries orgId={org.id} endpoints={endpoints} expect={expect} onChange={list.reload} />
      ) : null}
      <h2>New endpoint</h2>
      <div class="card">
        <Form
          submit="Add endpoint"
          label="New webhook endpoint"
          resetOnSuccess
          onSubmit={async (d) =>
            minted(
              await api<WithSecret>("POST", `/v1/orgs/${org.id}/webhook-endpoints`, endpointBody(d)),
              false,
            )
          }
        >
          <EndpointFields />
        </Form>
      </div>
    </Page>
  );
}

/**
 * The signing secret, right after it was made: shown this once (the server keeps it sealed and never
 * shows it again), with a Copy button and, should the clipboard be refused, the text selected instead.
 */
function NewSecret(props: { made: WithSecret; rotated: boolean; onDone: () => void }) {
  const { endpoint, secret } = props.made;
  const until = endpoint.previousSecretValidUntil;
  return (
    <ShownOnce
      id="new-secret-title"
      title={
        props.rotated
          ? `The new signing secret of ${nameOf(endpoint)}`
          : `Signing secret of ${nameOf(endpoint)}`
      }
      secret={secret}
      noun="secret"
      testId="new-secret"
      warning="Your server needs it to check each delivery's signature. If it is lost, rotate the secret."
      onDone={props.onDone}
    >
      {props.rotated ? (
        <p>
          {until
            ? `The previous secret keeps signing beside the new one until ${when(until)}: give your server the new one before then.`
            : "The previous secret no longer signs."}
        </p>
      ) : null}
      <p class="muted">
        Check deliveries with any Standard Webhooks library:{" "}
        <code>new Webhook(secret).verify(body, headers)</code>.
      </p>
    </ShownOnce>
  );
}
