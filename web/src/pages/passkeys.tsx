import { browserSupportsWebAuthn, startAuthentication, startRegistration } from "@simplewebauthn/browser";
import { useState } from "preact/hooks";
import { ApiError, api } from "../api.js";
import { ConfirmPasswordForm, str, YourPasswordField } from "../fields.js";
import { describe } from "../messages.js";
import { ConfirmButton, Field, Form, Loading, Notice, useLoad, when } from "../ui.js";
import { BackupCodes } from "./backup-codes.js";

interface Passkey {
  id: string;
  name: string;
  deviceType: string;
  backedUp: boolean;
  createdAt: string;
  lastUsedAt: string | null;
}
type Options<T> = { challengeId: string; options: T };

/** A ceremony the person cancelled or the device refused: said in words, never as a stack. */
function ceremonyError(err: unknown): string {
  if (err instanceof ApiError) return describe(err);
  const name = (err as { name?: string })?.name;
  if (name === "NotAllowedError" || name === "AbortError")
    return "The passkey request was cancelled or timed out. Try again.";
  if (name === "InvalidStateError") return "This device already holds a passkey for your account.";
  return "Your browser or device could not use a passkey here.";
}

/**
 * Passkeys on the account page (AUTH-13): the list, adding one (with the password typed: a passkey
 * is also a second factor; the account's first comes with backup codes, shown once), renaming, and
 * removing (the password is asked for first when the last proof is too old). The browser's dialog does the rest.
 */
export function Passkeys(props: { onChange?: () => void }) {
  const list = useLoad(() => api<{ passkeys: Passkey[] }>("GET", "/v1/me/passkeys"), []);
  const [needPassword, setNeedPassword] = useState(false);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [message, setMessage] = useState("");
  const [error, setError] = useState("");
  if (!browserSupportsWebAuthn()) return <p class="muted">This browser cannot use passkeys.</p>;
  if (codes) return <BackupCodes codes={codes} onDone={() => setCodes(null)} />;
  const add = async (name: string, password: string) => {
    setError("");
    setMessage("");
    const made = await api<Options<Parameters<typeof startRegistration>[0]["optionsJSON"]>>(
      "POST",
      "/v1/me/passkeys/options",
      { password },
    );
    let credential: Awaited<ReturnType<typeof startRegistration>>;
    try {
      credential = await startRegistration({ optionsJSON: made.options });
    } catch (err) {
      setError(ceremonyError(err));
      return;
    }
    const added = await api<{ backupCodes?: string[] }>("POST", "/v1/me/passkeys", {
      challengeId: made.challengeId,
      name,
      credential,
    });
    setMessage(
      `${name} was added: you can sign in with it, and it is your second factor after your password.`,
    );
    if (added.backupCodes) setCodes(added.backupCodes);
    list.reload();
    props.onChange?.();
  };
  const passkeys = list.data?.passkeys ?? [];
  return (
    <div class="card">
      {list.error ? <Notice kind="error">{list.error}</Notice> : null}
      {!list.data && !list.error ? <Loading /> : null}
      {list.data && !passkeys.length ? (
        <p class="muted">
          No passkeys yet. A passkey signs you in with your device's lock (a fingerprint, face or PIN),
          without a password.
        </p>
      ) : null}
      {passkeys.length ? (
        <p class="muted">
          Your passkeys are also your second factor: signing in with your password asks for one of them.
        </p>
      ) : null}
      <ul class="rows" aria-label="Your passkeys">
        {passkeys.map((p) => (
          <li class="row" key={p.id}>
            <div>
              <strong>{p.name}</strong>
              {p.backedUp ? <span class="badge">Synced</span> : null}
              <p class="muted">
                Added {when(p.createdAt)}
                {p.lastUsedAt ? ` · last used ${when(p.lastUsedAt)}` : " · not used yet"}
              </p>
            </div>
            <div class="row-actions">
              <ConfirmButton
                small
                label="Remove"
                title={`Remove ${p.name}?`}
                confirm="Remove passkey"
                onConfirm={async () => {
                  try {
                    await api("DELETE", `/v1/me/passkeys/${encodeURIComponent(p.id)}`);
                  } catch (err) {
                    if (err instanceof ApiError && err.code === "REAUTH_REQUIRED") setNeedPassword(true);
                    throw err;
                  }
                  setMessage(`${p.name} was removed.`);
                  list.reload();
                  props.onChange?.();
                }}
              >
                <p>It will no longer sign you in. Your password and other passkeys keep working.</p>
              </ConfirmButton>
            </div>
          </li>
        ))}
      </ul>
      {message ? <Notice kind="ok">{message}</Notice> : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      {needPassword ? (
        <ConfirmPasswordForm then={async () => setNeedPassword(false)}>
          <p>Confirm your password first: removing a passkey changes how you sign in.</p>
        </ConfirmPasswordForm>
      ) : (
        <Form
          submit="Add a passkey"
          label="Add a passkey"
          resetOnSuccess
          onSubmit={(d) => add(str(d, "name").trim(), str(d, "password"))}
        >
          <Field
            name="name"
            label="Passkey name"
            required
            maxLength={60}
            autoComplete="off"
            placeholder="Work laptop"
            hint="So you recognise it later: the device or password manager that holds it."
          />
          <YourPasswordField />
        </Form>
      )}
    </div>
  );
}

/** "Use a passkey" on the sign-in page: no email typed, the passkey names the account. */
export function PasskeySignIn(props: {
  onSignedIn: () => Promise<void>;
  /** The password step's token: the passkey is then the second factor of that account's sign-in. */
  challengeToken?: string;
}) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  if (!browserSupportsWebAuthn())
    return props.challengeToken ? (
      <p class="muted">This browser cannot use passkeys: use a backup code, or another browser.</p>
    ) : null;
  const go = async () => {
    setBusy(true);
    setError("");
    try {
      const step = props.challengeToken ? { challengeToken: props.challengeToken } : undefined;
      const base = step ? "/v1/auth/mfa/passkey" : "/v1/auth/passkey";
      const made = await api<Options<Parameters<typeof startAuthentication>[0]["optionsJSON"]>>(
        "POST",
        `${base}/options`,
        step ?? {},
      );
      const credential = await startAuthentication({ optionsJSON: made.options });
      await api("POST", base, { ...step, challengeId: made.challengeId, credential });
      await props.onSignedIn();
    } catch (err) {
      setError(ceremonyError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="passkey-sign-in">
      <button type="button" onClick={go} disabled={busy}>
        {busy ? "Waiting for your passkey…" : "Use a passkey"}
      </button>
      {error ? <Notice kind="error">{error}</Notice> : null}
    </div>
  );
}
