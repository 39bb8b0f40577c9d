import { Notice } from "../ui.js";

/** Backup codes, shown once: copy them now, they are stored hashed and never shown again. */
export function BackupCodes(props: { codes: string[]; onDone: () => void }) {
  return (
    <div class="card">
      <h3>Your backup codes</h3>
      <Notice kind="warn">
        Keep these somewhere safe. Each works once, when you have no access to your app or passkey. They will
        not be shown again.
      </Notice>
      <ul class="codes" aria-label="Backup codes">
        {props.codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <div class="actions">
        <button type="button" class="primary" onClick={props.onDone}>
          I have saved them
        </button>
      </div>
    </div>
  );
}
