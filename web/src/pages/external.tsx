import { useState } from "preact/hooks";
import { ApiError, api } from "../api.js";
import { ConfirmPasswordForm } from "../fields.js";
import { codeInWords, describe } from "../messages.js";
import { refreshMe, useMe } from "../session.js";
import { ConfirmButton, Loading, Notice, Page, useLoad, when } from "../ui.js";

interface Provider {
  id: string;
  name: string;
}
interface Identity {
  id: string;
  provider: string;
  providerName: string;
  email: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}

const providers = () => api<{ providers: Provider[] }>("GET", "/v1/auth/external");

/**
 * "Continue with …" on the sign-in page (AUTH-11): plain links, as the round trip is a navigation
 * (Bulwark → the provider → Bulwark's callback → `next`). Nothing shows when no provider is configured.
 */
export function ExternalSignIn(props: { next: string }) {
  const list = useLoad(providers, []);
  const all = list.data?.providers ?? [];
  if (!all.length) return null;
  return (
    <div class="external-sign-in">
      {all.map((p) => (
        <a
          key={p.id}
          class="button"
          href={`/v1/auth/external/${p.id}/start?next=${encodeURIComponent(props.next)}`}
        >
          Continue with {p.name}
        </a>
      ))}
    </div>
  );
}

/**
 * `/link-account`: a provider's identity whose address already has an account here, waiting in this
 * browser (a cookie, never the link itself). It is linked only when that account's owner, signed in,
 * confirms with their password (never silently).
 */
export function LinkAccount() {
  const me = useMe();
  const [done, setDone] = useState("");
  const pending = useLoad(
    () =>
      me
        ? api<{ name: string; email: string }>("GET", "/v1/me/identities/pending")
        : Promise.resolve(undefined),
    [me?.user.id],
  );
  if (me === undefined) return <Loading />;
  if (me === null) {
    const next = encodeURIComponent("/link-account");
    return (
      <Page title="Link your sign-in" narrow>
        <p>
          An account already uses the address your provider gave us. If it is yours, sign in to it with your
          password, then confirm the link.
        </p>
        <p>
          <a class="button" href={`/?next=${next}`}>
            Sign in to link it
          </a>
        </p>
      </Page>
    );
  }
  if (done)
    return (
      <Page title="Linked" narrow>
        <Notice kind="ok">{done}</Notice>
        <p>
          <a href="/app/account">Go to your account</a>
        </p>
      </Page>
    );
  return (
    <Page title="Link your sign-in" narrow>
      {pending.error ? <Notice kind="error">{pending.error}</Notice> : null}
      {!pending.data && !pending.error ? <Loading /> : null}
      {pending.data ? (
        <ConfirmPasswordForm
          submit={`Link ${pending.data.name}`}
          then={async () => {
            await api("POST", "/v1/me/identities/confirm", {});
            setDone(`Signing in with ${pending.data?.name} now opens your account ${me.user.email}.`);
          }}
        >
          <p>
            Signing in with <strong>{pending.data.name}</strong> as <strong>{pending.data.email}</strong> will
            open your account <strong>{me.user.email}</strong>. Confirm with your password.
          </p>
        </ConfirmPasswordForm>
      ) : null}
    </Page>
  );
}

/**
 * The account's linked identities (AUTH-11): listed, linked (a round trip through the provider) and
 * removed (a fresh password proof first, and never the account's last way in).
 */
export function SignInMethods() {
  const list = useLoad(() => api<{ identities: Identity[] }>("GET", "/v1/me/identities"), []);
  const offered = useLoad(providers, []);
  const [needPassword, setNeedPassword] = useState(false);
  const query = new URLSearchParams(location.search);
  const [message, setMessage] = useState(
    query.get("linked") ? "The sign-in was linked to your account." : "",
  );
  // A link that came back refused (from the provider's round trip) says why, in known words only.
  const [error, setError] = useState(codeInWords(query.get("error")));
  if (!offered.data?.providers.length && !list.data?.identities.length) return null;
  const link = async (p: Provider) => {
    setError("");
    try {
      const { url } = await api<{ url: string }>("POST", `/v1/me/identities/${p.id}`, {});
      location.assign(url);
    } catch (err) {
      if (err instanceof ApiError && err.code === "REAUTH_REQUIRED") setNeedPassword(true);
      else setError(describe(err));
    }
  };
  const identities = list.data?.identities ?? [];
  return (
    <>
      <h2>Sign-in methods</h2>
      <div class="card">
        {list.error ? <Notice kind="error">{list.error}</Notice> : null}
        {list.data && !identities.length ? <p class="muted">No external sign-in is linked.</p> : null}
        <ul class="rows" aria-label="Linked sign-ins">
          {identities.map((i) => (
            <li class="row" key={i.id}>
              <div>
                <strong>{i.providerName}</strong>
                <p class="muted">
                  {i.email ?? "no address"} · linked {when(i.createdAt)}
                </p>
              </div>
              <div class="actions">
                <ConfirmButton
                  label="Remove"
                  small
                  title={`Remove ${i.providerName}?`}
                  confirm="Remove sign-in"
                  onConfirm={async () => {
                    try {
                      await api("DELETE", `/v1/me/identities/${i.id}`);
                    } catch (err) {
                      if (err instanceof ApiError && err.code === "REAUTH_REQUIRED") setNeedPassword(true);
                      throw err;
                    }
                    setMessage(`${i.providerName} was removed.`);
                    list.reload();
                  }}
                >
                  <p>It will no longer sign you in.</p>
                </ConfirmButton>
              </div>
            </li>
          ))}
        </ul>
        {message ? <Notice kind="ok">{message}</Notice> : null}
        {error ? <Notice kind="error">{error}</Notice> : null}
        {needPassword ? (
          <ConfirmPasswordForm
            then={async () => {
              setNeedPassword(false);
              await refreshMe();
            }}
          >
            <p>
              Confirm your password first: linking or removing a sign-in changes how you sign in. No password
              yet? Set one with “Forgot your password?” on the sign-in page.
            </p>
          </ConfirmPasswordForm>
        ) : (
          <div class="actions">
            {(offered.data?.providers ?? []).map((p) => (
              <button type="button" key={p.id} onClick={() => link(p)}>
                Link {p.name}
              </button>
            ))}
          </div>
        )}
      </div>
    </>
  );
}
