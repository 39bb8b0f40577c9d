import { useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { PasswordAndCodeFields, str, YourPasswordField } from "../fields.js";
import { type Me, refreshMe } from "../session.js";
import { Field, Form, Loading, Notice, Page, useLoad } from "../ui.js";
import { BackupCodes } from "./backup-codes.js";
import { AccountDeletion } from "./deletion.js";
import { SignInMethods } from "./external.js";
import { Passkeys } from "./passkeys.js";

interface Enrolment {
  secret: string;
  otpauthUri: string;
  qrCode: string;
}

/**
 * Two-factor authentication (AUTH-8): the password gate, then the QR code and otpauth URI, then a first
 * code, then backup codes shown once; regenerating or turning it off needs the password and a code.
 */
function TwoFactor() {
  const status = useLoad(
    () => api<{ totp: boolean; methods: string[]; backupCodesLeft: number }>("GET", "/v1/me/mfa"),
    [],
  );
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [codes, setCodes] = useState<string[] | null>(null);
  if (codes)
    return (
      <BackupCodes
        codes={codes}
        onDone={() => {
          setCodes(null);
          status.reload();
        }}
      />
    );
  if (status.loading && !status.data) return <Loading />;
  if (status.error) return <Notice kind="error">{status.error}</Notice>;
  if (enrolment)
    return (
      <div class="card" key="enrol">
        <h3>Scan the code</h3>
        <p>
          Scan this QR code with an authenticator app (1Password, Google Authenticator, Aegis…), then enter
          the code it shows.
        </p>
        <img
          class="qr"
          src={enrolment.qrCode}
          alt="QR code for your authenticator app"
          width={192}
          height={192}
        />
        <details>
          <summary>Can't scan? Enter the key by hand</summary>
          <p>
            Key:{" "}
            <code class="secret" data-testid="totp-secret">
              {enrolment.secret}
            </code>
          </p>
          <p class="wrap">
            <a href={enrolment.otpauthUri}>Open in an authenticator app on this device</a>
          </p>
        </details>
        <Form
          submit="Turn on"
          onSubmit={async (d) => {
            const r = await api<{ backupCodes: string[] }>("POST", "/v1/me/mfa/totp/confirm", {
              code: str(d, "code"),
            });
            setEnrolment(null);
            setCodes(r.backupCodes);
          }}
        >
          <Field
            name="code"
            label="Code from the app"
            required
            autoComplete="one-time-code"
            inputMode="numeric"
            minLength={6}
            maxLength={6}
          />
        </Form>
      </div>
    );
  const on = (status.data?.methods.length ?? 0) > 0;
  const totp = status.data?.totp ?? false;
  return (
    <div class="card" key={totp ? "on" : on ? "passkey" : "off"}>
      {totp ? (
        <p>
          Two-factor authentication is <strong>on</strong>. You use an authenticator app
          {status.data?.methods.includes("passkey") ? " and your passkeys" : ""}. Backup codes left:{" "}
          {status.data?.backupCodesLeft}.
        </p>
      ) : on ? (
        <p>
          Two-factor authentication is <strong>on</strong>. Your passkeys are your second factor. Backup codes
          left: {status.data?.backupCodesLeft}. You can add an authenticator app as well.
        </p>
      ) : (
        <p>
          Two-factor authentication is <strong>off</strong>. Turn it on so a stolen password is not enough to
          sign in: add an authenticator app here, or a passkey.
        </p>
      )}
      {totp ? null : (
        <Form
          submit={on ? "Add an authenticator app" : "Set up two-factor authentication"}
          label={on ? "Add an authenticator app" : "Set up two-factor authentication"}
          onSubmit={async (d) =>
            setEnrolment(await api<Enrolment>("POST", "/v1/me/mfa/totp", { password: str(d, "password") }))
          }
        >
          <YourPasswordField />
        </Form>
      )}
      {on ? (
        <>
          <h3>New backup codes</h3>
          <Form
            submit="Make new backup codes"
            label="Make new backup codes"
            onSubmit={async (d) => {
              const r = await api<{ backupCodes: string[] }>("POST", "/v1/me/mfa/backup-codes", {
                password: str(d, "password"),
                code: str(d, "code"),
              });
              setCodes(r.backupCodes);
            }}
          >
            <PasswordAndCodeFields />
          </Form>
        </>
      ) : null}
      {totp ? (
        <>
          <h3>Turn off</h3>
          <Form
            submit="Turn off two-factor authentication"
            label="Turn off two-factor authentication"
            danger
            onSubmit={async (d) => {
              await api("DELETE", "/v1/me/mfa/totp", { password: str(d, "password"), code: str(d, "code") });
              status.reload();
            }}
          >
            <PasswordAndCodeFields />
          </Form>
        </>
      ) : null}
    </div>
  );
}

function PasswordChange() {
  const [done, setDone] = useState(false);
  return (
    <div class="card">
      {done ? (
        <Notice kind="ok">Your password is changed. Your other sessions were signed out.</Notice>
      ) : null}
      <Form
        submit="Change password"
        label="Change password"
        resetOnSuccess
        onSubmit={async (d) => {
          setDone(false);
          await api("POST", "/v1/me/password", {
            currentPassword: str(d, "currentPassword"),
            newPassword: str(d, "newPassword"),
          });
          setDone(true);
        }}
      >
        <Field
          name="currentPassword"
          label="Current password"
          type="password"
          required
          autoComplete="current-password"
        />
        <Field
          name="newPassword"
          label="New password"
          type="password"
          required
          autoComplete="new-password"
          maxLength={1024}
        />
      </Form>
    </div>
  );
}

/** The name colleagues see; the email stays what identifies the account. */
function NameChange(props: { me: Me }) {
  const [done, setDone] = useState(false);
  return (
    <div class="card">
      {done ? <Notice kind="ok">Saved.</Notice> : null}
      <Form
        submit="Save name"
        label="Your name"
        onSubmit={async (d) => {
          setDone(false);
          const name = str(d, "name").trim();
          await api("PATCH", "/v1/me", { name: name === "" ? null : name });
          await refreshMe();
          setDone(true);
        }}
      >
        <Field
          name="name"
          label="Name"
          maxLength={100}
          autoComplete="name"
          value={props.me.user.name ?? ""}
        />
      </Form>
    </div>
  );
}

/** What `POST /v1/me/export` answers (GDPR-1), as far as this page reads it. */
interface PersonalData {
  exportedAt: string;
  tables: Record<string, unknown[]>;
}

/**
 * GDPR-1: the account's data as a JSON file. Fetched with the session's CSRF token (a plain link could
 * not send it), then saved from memory (and offered as a link, should the browser not save it); the
 * file's memory is released when the page is left.
 */
function DataExport() {
  const [file, setFile] = useState<{ url: string; name: string; rows: number; tables: number } | null>(null);
  useEffect(() => () => (file ? URL.revokeObjectURL(file.url) : undefined), [file]);
  return (
    <div class="card">
      <p>
        Everything Bulwark holds about you, as one JSON file: your account, sessions and sign-in history,
        memberships, invitations, keys and tokens you created, and the audit entries that name you. Secrets
        such as password hashes are left out; other people appear as "[another person]".
      </p>
      {file ? (
        <Notice kind="ok">
          Your data is ready: {file.rows} records from {file.tables} tables.{" "}
          <a href={file.url} download={file.name} data-testid="export-file">
            Save {file.name}
          </a>
        </Notice>
      ) : null}
      <Form
        submit="Download my data"
        label="Download my data"
        onSubmit={async () => {
          const data = await api<PersonalData>("POST", "/v1/me/export", {});
          const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
          const lists = Object.values(data.tables);
          const next = {
            url: URL.createObjectURL(blob),
            name: `bulwark-personal-data-${data.exportedAt.slice(0, 10)}.json`,
            rows: lists.reduce((n, rows) => n + rows.length, 0),
            tables: lists.filter((rows) => rows.length > 0).length,
          };
          setFile(next);
          const save = document.createElement("a");
          save.href = next.url;
          save.download = next.name;
          save.click();
        }}
      />
    </div>
  );
}

export function Account(props: { me: Me }) {
  // A passkey added or removed changes the second factor: the section below is loaded again.
  const [factors, setFactors] = useState(0);
  return (
    <Page title="Account" lead={`Signed in as ${props.me.user.email}.`}>
      <h2>Name</h2>
      <NameChange me={props.me} />
      <h2>Password</h2>
      <PasswordChange />
      <h2>Passkeys</h2>
      <Passkeys onChange={() => setFactors((n) => n + 1)} />
      <h2>Two-factor authentication</h2>
      <TwoFactor key={factors} />
      <SignInMethods />
      <h2>Your data</h2>
      <DataExport />
      <h2>Delete your account</h2>
      <AccountDeletion />
    </Page>
  );
}
