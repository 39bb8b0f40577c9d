import type { ComponentChildren, TargetedSubmitEvent } from "preact";
import { createContext } from "preact";
import { useCallback, useContext, useEffect, useId, useRef, useState } from "preact/hooks";
import { ApiError } from "./api.js";
import { describe, fieldMessage } from "./messages.js";

/** A screen: its heading takes focus on arrival, so a screen reader announces where the person is. */
export function Page(props: {
  title: string;
  lead?: ComponentChildren;
  children?: ComponentChildren;
  narrow?: boolean;
}) {
  const h1 = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.title} · Bulwark`;
    h1.current?.focus({ preventScroll: true });
  }, [props.title]);
  return (
    <section class={props.narrow ? "page narrow" : "page"}>
      <h1 tabIndex={-1} ref={h1}>
        {props.title}
      </h1>
      {props.lead ? <p class="lead">{props.lead}</p> : null}
      {props.children}
    </section>
  );
}

export function Notice(props: { kind: "ok" | "error" | "info" | "warn"; children: ComponentChildren }) {
  return (
    <div class={`notice ${props.kind}`} role={props.kind === "error" ? "alert" : "status"}>
      {props.children}
    </div>
  );
}

type Errors = Record<string, string>;
const FieldErrors = createContext<Errors>({});

/**
 * A form whose action calls the API. The button is disabled while it runs; a failure is shown in words
 * above the button, and each field error next to its field (VALIDATION_FAILED details name the field).
 * Native validation (`required`, `type=email`, lengths) catches most mistakes before a request is made.
 */
export function Form(props: {
  onSubmit: (data: FormData) => Promise<unknown>;
  submit: string;
  danger?: boolean;
  children?: ComponentChildren;
  label?: string;
  resetOnSuccess?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [fields, setFields] = useState<Errors>({});
  const onSubmit = async (event: TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    setBusy(true);
    setError("");
    setFields({});
    try {
      await props.onSubmit(new FormData(form));
      if (props.resetOnSuccess) form.reset();
    } catch (err) {
      const byField: Errors = {};
      if (err instanceof ApiError)
        for (const f of err.fields) {
          const name = fieldOf(form, f.field);
          if (name) byField[name] ??= fieldMessage(f);
        }
      setFields(byField);
      setError(Object.keys(byField).length ? "Check the highlighted fields." : describe(err));
      const first = Object.keys(byField)[0];
      const el = first ? form.elements.namedItem(first) : null;
      // A group of checkboxes shares one name: the first of them takes the focus.
      (el instanceof RadioNodeList
        ? (el[0] as HTMLElement | undefined)
        : (el as HTMLElement | null)
      )?.focus();
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="form" onSubmit={onSubmit} aria-label={props.label} noValidate={false}>
      <FieldErrors.Provider value={fields}>{props.children}</FieldErrors.Provider>
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div class="actions">
        <button type="submit" class={props.danger ? "danger" : "primary"} disabled={busy} aria-busy={busy}>
          {busy ? "Working…" : props.submit}
        </button>
      </div>
    </form>
  );
}

/**
 * The form control an API field error belongs to: the path's last part ("lines.0.quantity" is the
 * quantity field), else the whole path, else its first part ("allowedIps.3", one line of a list field).
 */
function fieldOf(form: HTMLFormElement, path: string): string | undefined {
  const parts = path.split(".");
  return [parts[parts.length - 1], path, parts[0]].find((n) => n && form.elements.namedItem(n));
}

/** The input attributes the console's forms use (a closed list keeps every field's markup predictable). */
interface InputProps {
  type?: "text" | "email" | "password" | "number" | "search" | "date";
  required?: boolean;
  autoComplete?: string;
  autoFocus?: boolean;
  inputMode?: "text" | "numeric" | "decimal" | "email";
  minLength?: number;
  maxLength?: number;
  min?: number | string;
  max?: number | string;
  step?: string;
  pattern?: string;
  placeholder?: string;
  value?: string;
  /** A starting value the person then edits (an edit form): unlike `value`, a re-render never resets it. */
  defaultValue?: string;
}

/** What every field shows under its control: the hint, and the error the last submission got. */
function useFieldNotes(name: string, hint: ComponentChildren) {
  const id = useId();
  const error = useContext(FieldErrors)[name];
  const describedBy = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  const notes = (
    <>
      {hint ? (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {error ? (
        <p class="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : null}
    </>
  );
  return {
    id,
    error,
    notes,
    wrapper: error ? "field invalid" : "field",
    aria: { "aria-invalid": error ? true : undefined, "aria-describedby": describedBy || undefined },
  };
}

export function Field(props: { name: string; label: string; hint?: ComponentChildren } & InputProps) {
  const { name, label, hint, type, ...input } = props;
  const f = useFieldNotes(name, hint);
  return (
    <div class={f.wrapper}>
      <label for={f.id}>{label}</label>
      {/* Keyed by name: when one form replaces another, a field never inherits the previous field's
          element, so a typed password can never reappear in the next form's (visible) text field. */}
      <input
        key={name}
        id={f.id}
        name={name}
        // One cast: preact types each input type separately; the closed InputProps list is what matters.
        type={(type ?? "text") as "text"}
        {...f.aria}
        {...input}
      />
      {f.notes}
    </div>
  );
}

/** A text area of a Form: for values typed one per line, with its hint and error like a Field's. */
export function TextArea(props: {
  name: string;
  label: string;
  hint?: ComponentChildren;
  rows?: number;
  maxLength?: number;
  placeholder?: string;
  /** A starting value the person then edits, as Field's. */
  defaultValue?: string;
}) {
  const { name, label, hint, ...area } = props;
  const f = useFieldNotes(name, hint);
  return (
    <div class={f.wrapper}>
      <label for={f.id}>{label}</label>
      <textarea
        key={name}
        id={f.id}
        name={name}
        spellcheck={false}
        autoComplete="off"
        {...f.aria}
        {...area}
      />
      {f.notes}
    </div>
  );
}

/**
 * Checkboxes sharing one name (FormData.getAll gives the checked values), under a legend; the group's
 * hint and error are announced with the group. `code` shows each value as code (scope names).
 */
export function Checkboxes(props: {
  name: string;
  legend: string;
  options: readonly string[];
  hint?: ComponentChildren;
  code?: boolean;
}) {
  const f = useFieldNotes(props.name, props.hint);
  return (
    <fieldset class={`${f.wrapper} checks`} aria-describedby={f.aria["aria-describedby"]}>
      <legend>{props.legend}</legend>
      <div class="check-list">
        {props.options.map((o) => (
          <label key={o} class="check">
            <input type="checkbox" name={props.name} value={o} />
            {props.code ? <code>{o}</code> : o}
          </label>
        ))}
      </div>
      {f.notes}
    </fieldset>
  );
}

export function Select(props: {
  name: string;
  label: string;
  options: readonly string[];
  /** A value's visible words; without one, the value in sentence case ("OWNER": "Owner"). */
  labels?: Readonly<Record<string, string>>;
  value?: string;
  onChange?: (value: string) => void;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select
        id={id}
        name={props.name}
        value={props.value}
        onChange={(e) => props.onChange?.((e.currentTarget as HTMLSelectElement).value)}
      >
        {props.options.map((o) => (
          <option value={o} key={o}>
            {props.labels?.[o] ?? o.charAt(0) + o.slice(1).toLowerCase()}
          </option>
        ))}
      </select>
    </div>
  );
}

/**
 * A destructive action behind a confirmation dialog (a native modal `<dialog>`: focus is trapped and
 * Escape cancels). The failure, if any, is shown in the dialog.
 */
export function ConfirmButton(props: {
  label: string;
  title: string;
  children?: ComponentChildren;
  confirm: string;
  onConfirm: () => Promise<unknown>;
  small?: boolean;
  /** "plain" for a change that is not a loss (a rotation): the buttons are not painted as danger. */
  tone?: "danger" | "plain";
}) {
  const danger = props.tone !== "plain";
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const titleId = useId();
  const run = async () => {
    setBusy(true);
    setError("");
    try {
      await props.onConfirm();
      dialog.current?.close();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        class={[danger ? "danger" : "", props.small ? "small" : ""].join(" ").trim() || undefined}
        onClick={() => dialog.current?.showModal()}
      >
        {props.label}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId}>
        <h2 id={titleId}>{props.title}</h2>
        {props.children}
        {error ? <Notice kind="error">{error}</Notice> : null}
        <div class="actions">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="button" class={danger ? "danger" : "primary"} disabled={busy} onClick={run}>
            {busy ? "Working…" : props.confirm}
          </button>
        </div>
      </dialog>
    </>
  );
}

/** Loads data for a screen; `reload` runs it again (after a change). */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const run = useCallback(() => {
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => setState({ data, loading: false }),
      (err) => setState({ error: describe(err), loading: false }),
    );
  }, deps);
  useEffect(run, [run]);
  return { ...state, reload: run };
}

/** A failure of a small inline action (a button in a row, the header's sign-out), next to it. */
export function InlineError(props: { error: string }) {
  if (!props.error) return null;
  return (
    <p class="field-error" role="alert">
      {props.error}
    </p>
  );
}

export function Loading() {
  return (
    <p class="muted" role="status">
      Loading…
    </p>
  );
}

export const when = (iso: string): string =>
  new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

/** A day in the person's time zone and language: when a monthly count starts again. */
export const day = (iso: string): string =>
  new Date(iso).toLocaleDateString(undefined, { dateStyle: "medium" });

/**
 * A secret shown this once (an API key, a webhook secret): its heading takes focus when it appears, a
 * Copy button puts it on the clipboard or, should the clipboard be refused, selects its text to copy
 * by hand. `warning` says why it matters; `children` what follows (a rotation's grace, how to use it).
 */
export function ShownOnce(props: {
  id: string;
  title: string;
  secret: string;
  noun: "key" | "secret";
  testId: string;
  warning: ComponentChildren;
  onDone: () => void;
  children?: ComponentChildren;
}) {
  const { secret, noun } = props;
  const heading = useRef<HTMLHeadingElement>(null);
  const code = useRef<HTMLElement>(null);
  const [copied, setCopied] = useState<"" | "yes" | "no">("");
  useEffect(() => {
    setCopied("");
    heading.current?.focus();
  }, [secret]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied("yes");
    } catch {
      if (code.current) getSelection()?.selectAllChildren(code.current);
      setCopied("no");
    }
  };
  return (
    <section class="card reveal" aria-labelledby={props.id}>
      <h2 id={props.id} tabIndex={-1} ref={heading}>
        {props.title}
      </h2>
      <Notice kind="warn">
        <strong>Copy it now: it will not be shown again.</strong> {props.warning}
      </Notice>
      <code class="key" data-testid={props.testId} ref={code}>
        {secret}
      </code>
      <div class="actions">
        <button type="button" class="primary" onClick={copy}>
          {copied === "yes" ? "Copied" : `Copy ${noun}`}
        </button>
        <button type="button" onClick={props.onDone}>
          I have stored it
        </button>
      </div>
      <p class="muted" role="status">
        {copied === "yes"
          ? `The ${noun} is on your clipboard.`
          : copied === "no"
            ? `Copying was blocked here: the ${noun} is selected, copy it with Ctrl+C (⌘C on a Mac).`
            : ""}
      </p>
      {props.children}
    </section>
  );
}

/**
 * The button that opens and closes a row's details below it (a list's "Details", "Attempts"): it says
 * whether they are open and which element they are, and is described by the row's summary.
 */
export function DisclosureButton(props: {
  id: string;
  open: boolean;
  onToggle: () => void;
  show: string;
  hide: string;
}) {
  return (
    <button
      type="button"
      class="small"
      aria-expanded={props.open}
      aria-controls={`${props.id}-detail`}
      aria-describedby={`${props.id}-sum`}
      onClick={props.onToggle}
    >
      {props.open ? props.hide : props.show}
    </button>
  );
}
