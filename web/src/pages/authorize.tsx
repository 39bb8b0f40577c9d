import { useState } from "preact/hooks";
import { api } from "../api.js";
import { ConfirmPasswordForm } from "../fields.js";
import { describe } from "../messages.js";
import { navigate } from "../router.js";
import { signedOut, useMe } from "../session.js";
import { Loading, Notice, Page, useLoad } from "../ui.js";

interface Request {
  uid: string;
  client: { id: string; name: string };
  organization: { id: string; name: string };
  scopes: string[];
  reauth: boolean;
  refusal: string | null;
  refusalReason: "not_member" | "mfa_required" | null;
}

/**
 * Continues to where the server says (the provider, then the app): only ever on this origin, so a
 * changed or forged answer can never send the person elsewhere from this page.
 */
function continueTo(next: string): void {
  const url = new URL(next, location.origin);
  if (url.origin !== location.origin) throw new Error("The server answered an address on another site.");
  location.assign(url.href);
}

/** What each scope lets the app see, in the person's words. */
const SEES: Record<string, (org: string) => string> = {
  openid: () => "Know that it is you (your account's id)",
  email: () => "See your email address",
  profile: () => "See your name",
  organization: (org) => `See that you are a member of ${org}, and your role there`,
  offline_access: () => "Stay signed in when you are not using it",
};

/**
 * The hosted page of an app's sign-in request (AUTH-10): the person, signed in to Bulwark (password and
 * second factor), sees which app of which organisation asks for what, and allows or declines it. Signed
 * out, they sign in first and come back here. The server finds the request through its cookie, in this
 * browser only: an address holding someone else's request id shows nothing.
 */
export function Authorize(props: { uid: string }) {
  const me = useMe();
  const here = `/authorize?uid=${encodeURIComponent(props.uid)}`;
  if (me === undefined) return <Loading />;
  if (me === null) {
    navigate(`/?next=${encodeURIComponent(here)}`, true);
    return null;
  }
  return <Consent path={`/authorize/${encodeURIComponent(props.uid)}`} here={here} email={me.user.email} />;
}

function Consent(props: { path: string; here: string; email: string }) {
  const request = useLoad(() => api<Request>("GET", `${props.path}/details`), [props.path]);
  const [error, setError] = useState("");
  const [pending, setPending] = useState<"allow" | "deny" | null>(null);
  const go = async (action: "allow" | "deny") => {
    setPending(action);
    setError("");
    try {
      continueTo((await api<{ location: string }>("POST", `${props.path}/${action}`, {})).location);
    } catch (err) {
      setError(describe(err));
      setPending(null);
    }
  };
  const switchAccount = async () => {
    await api("POST", "/v1/auth/logout").catch(() => undefined);
    signedOut("portal");
    navigate(`/?next=${encodeURIComponent(props.here)}`);
  };
  if (request.error)
    return (
      <Page title="This sign-in request cannot be shown" narrow>
        <Notice kind="error">{request.error}</Notice>
        <div class="actions">
          <button type="button" onClick={request.reload}>
            Try again
          </button>
        </div>
        <p>
          If it keeps failing, go back to the app and sign in again from there, or{" "}
          <a href="/app">go to your organisations</a>.
        </p>
      </Page>
    );
  const r = request.data;
  if (!r) return <Loading />;
  return (
    <Page
      title={`Sign in to ${r.client.name}`}
      lead={`${r.client.name} is an app of ${r.organization.name}. It asks to:`}
      narrow
    >
      <ul>
        {r.scopes.map((s) => (
          <li key={s}>{SEES[s]?.(r.organization.name) ?? s}</li>
        ))}
      </ul>
      <p class="muted">
        Signed in as <strong>{props.email}</strong>.{" "}
        <button type="button" class="link" onClick={switchAccount}>
          Use another account
        </button>
      </p>
      {r.refusal ? <Notice kind="error">{r.refusal}</Notice> : null}
      {r.refusalReason === "mfa_required" ? (
        <p>
          <a href="/app/account">Turn on two-factor authentication</a>, then reload this page.
        </p>
      ) : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      {r.reauth && !r.refusal ? (
        <ConfirmPasswordForm
          submit={`Confirm and sign in to ${r.client.name}`}
          then={async () =>
            continueTo((await api<{ location: string }>("POST", `${props.path}/allow`, {})).location)
          }
        >
          <p>{r.client.name} asks you to confirm your password.</p>
        </ConfirmPasswordForm>
      ) : null}
      <div class="actions">
        {r.reauth || r.refusal ? null : (
          <button type="button" class="primary" disabled={pending !== null} onClick={() => go("allow")}>
            {pending === "allow" ? "Signing in…" : "Allow"}
          </button>
        )}
        <button type="button" disabled={pending !== null} onClick={() => go("deny")}>
          {pending === "deny" ? "Cancelling…" : "Cancel"}
        </button>
      </div>
      <p class="muted" role="status">
        {pending === "allow"
          ? `Signing you in to ${r.client.name}…`
          : pending === "deny"
            ? "Cancelling…"
            : ""}
      </p>
    </Page>
  );
}
