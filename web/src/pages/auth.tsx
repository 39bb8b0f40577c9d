import { useState } from "preact/hooks";
import { api } from "../api.js";
import { EmailField, NewPasswordFields, repeatedPassword, SignInFields, str } from "../fields.js";
import { codeInWords } from "../messages.js";
import { navigate, safeNext, useLocation } from "../router.js";
import { refreshMe, useMe } from "../session.js";
import { Field, Form, Notice, Page } from "../ui.js";
import { ExternalSignIn } from "./external.js";
import { PasskeySignIn } from "./passkeys.js";

const TOKEN = /^bw[a-z]_[A-Za-z0-9_-]{20,200}$/;
const ORG = /^org_[0-9A-Z]{26}$/;

type Factor = "totp" | "passkey" | "backup_code";
type Login =
  | { mfaRequired: true; challengeToken: string; methods: Factor[] }
  | { user: unknown; csrfToken: string };

/**
 * Sign in (AUTH-3, AUTH-8, AUTH-13): password, then the second-factor step when the account has one:
 * a TOTP or backup code, or one of its passkeys, whichever it has.
 */
export function SignIn() {
  const { query } = useLocation();
  const me = useMe();
  const next = safeNext(query.get("next"), "/app");
  // After an external provider (AUTH-11) the server sends the browser here with the second-factor
  // step, or with the code of what went wrong.
  const [step, setStep] = useState<{ token: string; methods: Factor[] } | null>(() => {
    const token = query.get("step");
    return token ? { token, methods: (query.get("methods") ?? "").split(",") as Factor[] } : null;
  });
  const failure = codeInWords(query.get("error"));
  if (me) {
    navigate(next, true);
    return null;
  }
  const done = async () => {
    await refreshMe();
    navigate(next);
  };
  if (step) {
    const totp = step.methods.includes("totp");
    const codes = totp || step.methods.includes("backup_code");
    const passkey = step.methods.includes("passkey");
    return (
      <Page
        title="Two-factor authentication"
        lead={
          totp
            ? `Enter the 6-digit code from your authenticator app, or one of your backup codes${passkey ? ", or use your passkey" : ""}.`
            : codes
              ? "Confirm it is you with your passkey, or enter one of your backup codes."
              : "Confirm it is you with your passkey."
        }
        narrow
      >
        {passkey ? <PasskeySignIn onSignedIn={done} challengeToken={step.token} /> : null}
        {codes ? (
          <Form
            submit="Verify"
            onSubmit={async (d) => {
              await api("POST", "/v1/auth/mfa/verify", {
                challengeToken: step.token,
                code: str(d, "code").replaceAll(" ", ""),
              });
              await done();
            }}
          >
            <Field
              name="code"
              label="Code"
              required
              autoComplete="one-time-code"
              inputMode="text"
              minLength={6}
              maxLength={16}
              autoFocus
            />
          </Form>
        ) : null}
        <p>
          <a href="/" onClick={() => setStep(null)}>
            Start again
          </a>
        </p>
      </Page>
    );
  }
  return (
    <Page title="Sign in" narrow>
      {failure ? <Notice kind="error">{failure}</Notice> : null}
      <Form
        submit="Sign in"
        onSubmit={async (d) => {
          const r = await api<Login>("POST", "/v1/auth/login", {
            email: str(d, "email"),
            password: str(d, "password"),
          });
          if ("mfaRequired" in r) setStep({ token: r.challengeToken, methods: r.methods });
          else await done();
        }}
      >
        <SignInFields />
      </Form>
      <PasskeySignIn onSignedIn={done} />
      <ExternalSignIn next={next} />
      <p class="links">
        <a href="/forgot-password">Forgot your password?</a>
        <a href="/signup">Create an account</a>
      </p>
    </Page>
  );
}

export function SignUp() {
  const [sent, setSent] = useState("");
  return (
    <Page title="Create an account" narrow>
      {sent ? (
        <Notice kind="ok">
          We sent a link to <strong>{sent}</strong>. Open it to confirm your address, then sign in.
        </Notice>
      ) : (
        <Form
          submit="Create account"
          onSubmit={async (d) => {
            const password = repeatedPassword(d);
            await api("POST", "/v1/auth/signup", { email: str(d, "email"), password });
            setSent(str(d, "email"));
          }}
        >
          <EmailField autoComplete="email" />
          <NewPasswordFields
            label="Password"
            repeatLabel="Repeat the password"
            minLength={8}
            hint="At least 12 characters is a good start; a few unrelated words work well."
          />
        </Form>
      )}
      <p class="links">
        <a href="/">I already have an account</a>
      </p>
    </Page>
  );
}

function BadLink() {
  return (
    <Page title="This link is incomplete" narrow>
      <Notice kind="error">Open it again from the mail, or copy the whole address into the browser.</Notice>
      <p class="links">
        <a href="/">Sign in</a>
      </p>
    </Page>
  );
}

/** The verification link (AUTH-3) lands here. A button, not a page load, confirms: mail scanners that open links do not. */
export function VerifyEmail() {
  const token = useLocation().query.get("token") ?? "";
  const [email, setEmail] = useState("");
  if (!TOKEN.test(token)) return <BadLink />;
  return (
    <Page title="Confirm your email address" narrow>
      {email ? (
        <>
          <Notice kind="ok">Your address {email} is confirmed.</Notice>
          <p class="links">
            <a href="/">Sign in</a>
          </p>
        </>
      ) : (
        <Form
          submit="Confirm my address"
          onSubmit={async () => {
            const r = await api<{ user: { email: string } }>("POST", "/v1/auth/verify-email", { token });
            setEmail(r.user.email);
          }}
        />
      )}
    </Page>
  );
}

export function ForgotPassword() {
  const [done, setDone] = useState(false);
  return (
    <Page
      title="Reset your password"
      lead="We will mail you a link that works once, for a short time."
      narrow
    >
      {done ? (
        <Notice kind="ok">If that address has an account, a link is on its way.</Notice>
      ) : (
        <Form
          submit="Send the link"
          onSubmit={async (d) => {
            await api("POST", "/v1/auth/password/forgot", { email: str(d, "email") });
            setDone(true);
          }}
        >
          <EmailField autoComplete="email" />
        </Form>
      )}
      <p class="links">
        <a href="/">Back to sign in</a>
      </p>
    </Page>
  );
}

/** The reset link (AUTH-4) lands here. Every session of the account ends when the password changes. */
export function ResetPassword() {
  const token = useLocation().query.get("token") ?? "";
  const [done, setDone] = useState(false);
  if (!TOKEN.test(token)) return <BadLink />;
  return (
    <Page title="Choose a new password" narrow>
      {done ? (
        <>
          <Notice kind="ok">
            Your password is changed, and every session of the account has been signed out.
          </Notice>
          <p class="links">
            <a href="/">Sign in</a>
          </p>
        </>
      ) : (
        <Form
          submit="Set the new password"
          onSubmit={async (d) => {
            const password = repeatedPassword(d);
            await api("POST", "/v1/auth/password/reset", { token, password });
            setDone(true);
          }}
        >
          <NewPasswordFields label="New password" repeatLabel="Repeat the new password" />
        </Form>
      )}
    </Page>
  );
}

/**
 * The invitation link (AUTHZ-5) lands here. Signed in: accept as this account (the server checks it is the
 * invited address). Signed out: choose a password to create the account, or sign in and come back.
 */
export function AcceptInvitation() {
  const { query } = useLocation();
  const me = useMe();
  const token = query.get("token") ?? "";
  const orgId = query.get("orgId") ?? query.get("org") ?? "";
  if (!TOKEN.test(token) || !ORG.test(orgId)) return <BadLink />;
  if (me === undefined) return null;
  const here = `/accept-invitation?${query.toString()}`;
  const accepted = async (password?: string) => {
    await api("POST", "/v1/invitations/accept", { orgId, token, ...(password ? { password } : {}) });
    await refreshMe();
    navigate(`/app/orgs/${orgId}`);
  };
  if (me)
    return (
      <Page title="Join the organisation" lead={`You are signed in as ${me.user.email}.`} narrow>
        <Form submit="Accept the invitation" onSubmit={() => accepted()} />
      </Page>
    );
  return (
    <Page
      title="Join the organisation"
      lead="You were invited to an organisation. New here? Choose a password to create your account."
      narrow
    >
      <Form
        submit="Create account and join"
        onSubmit={async (d) => {
          await accepted(repeatedPassword(d));
        }}
      >
        <NewPasswordFields label="Password" repeatLabel="Repeat the password" />
      </Form>
      <p class="links">
        <a href={`/?next=${encodeURIComponent(here)}`}>I already have an account: sign in first</a>
      </p>
    </Page>
  );
}
