import type { ComponentChildren } from "preact";
import { ApiError, api } from "./api.js";
import { Field, Form } from "./ui.js";

/**
 * The fields several forms ask for, written once so that the same question always carries the same name,
 * label, autocomplete hint and limits: a password manager and a screen reader then meet it the same way
 * on every screen, and a limit changed here changes everywhere.
 */

/** A submitted value as text ("" when absent): the console's forms hold text inputs and selects only. */
export const str = (d: FormData, k: string): string => String(d.get(k) ?? "");

/**
 * An email address. `autoComplete` tells the browser what it is: the account's name at sign-in
 * ("username"), the person's own address ("email"), or someone else's, never filled in ("off").
 */
export function EmailField(props: { autoComplete: "username" | "email" | "off" }) {
  return (
    <Field
      name="email"
      label="Email"
      type="email"
      required
      autoComplete={props.autoComplete}
      maxLength={254}
    />
  );
}

/** The email and password of a sign-in: the portal's and the platform admins' ask the same. */
export function SignInFields() {
  return (
    <>
      <EmailField autoComplete="username" />
      <Field
        name="password"
        label="Password"
        type="password"
        required
        autoComplete="current-password"
        maxLength={1024}
      />
    </>
  );
}

/** The signed-in person's password, asked again before a change that weakens or replaces a second factor. */
export function YourPasswordField() {
  return (
    <Field name="password" label="Your password" type="password" required autoComplete="current-password" />
  );
}

/**
 * "Confirm your password" (AUTH-14): re-authenticates the session (POST /v1/auth/reauth), then runs
 * `then` (what the proof was for). One form for every screen whose action asks for a fresh proof.
 */
export function ConfirmPasswordForm(props: {
  then: () => Promise<unknown>;
  submit?: string;
  children: ComponentChildren;
}) {
  return (
    <Form
      submit={props.submit ?? "Confirm"}
      label="Confirm your password"
      onSubmit={async (d) => {
        await api("POST", "/v1/auth/reauth", { password: str(d, "password") });
        await props.then();
      }}
    >
      {props.children}
      <YourPasswordField />
    </Form>
  );
}

/** The password and a current code (from the app, or a backup code): both, to touch the second factor. */
export function PasswordAndCodeFields() {
  return (
    <>
      <YourPasswordField />
      <Field
        name="code"
        label="A current code"
        required
        autoComplete="one-time-code"
        minLength={6}
        maxLength={16}
      />
    </>
  );
}

/**
 * A new password typed twice, so a typing slip cannot lock the person out; `repeatedPassword` checks the
 * two before anything is sent. The labels are the screen's ("Password" or "New password").
 */
export function NewPasswordFields(props: {
  label: string;
  repeatLabel: string;
  minLength?: number;
  hint?: ComponentChildren;
}) {
  return (
    <>
      <Field
        name="password"
        label={props.label}
        type="password"
        required
        autoComplete="new-password"
        minLength={props.minLength}
        maxLength={1024}
        hint={props.hint}
      />
      <Field name="confirm" label={props.repeatLabel} type="password" required autoComplete="new-password" />
    </>
  );
}

/**
 * The new password of `NewPasswordFields`, once its repetition agrees. A mismatch is thrown as a field
 * error of the repetition, so the form shows it next to that field, as it shows the server's.
 */
export function repeatedPassword(d: FormData): string {
  const password = str(d, "password");
  if (password !== str(d, "confirm"))
    throw new ApiError(400, "VALIDATION_FAILED", "The two passwords differ.", [
      { in: "body", field: "confirm", message: "The two passwords differ." },
    ]);
  return password;
}
