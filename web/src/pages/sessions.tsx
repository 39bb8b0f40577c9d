import { useState } from "preact/hooks";
import { api } from "../api.js";
import { ConfirmButton, Loading, Notice, Page, useLoad, when } from "../ui.js";

interface SessionInfo {
  id: string;
  userAgent: string | null;
  ip: string | null;
  createdAt: string;
  lastSeenAt: string;
  current: boolean;
  impersonatedBy: string | null;
}

/** A readable device name from a user agent: enough to recognise one's own browsers. */
function device(ua: string | null): string {
  if (!ua) return "Unknown device";
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Chrom(e|ium)\//.test(ua)
      ? "Chrome"
      : /Firefox\//.test(ua)
        ? "Firefox"
        : /Safari\//.test(ua)
          ? "Safari"
          : "Browser";
  const os = /Windows/.test(ua)
    ? "Windows"
    : /Android/.test(ua)
      ? "Android"
      : /iPhone|iPad/.test(ua)
        ? "iOS"
        : /Mac OS X/.test(ua)
          ? "macOS"
          : /Linux/.test(ua)
            ? "Linux"
            : "";
  return os ? `${browser} on ${os}` : browser;
}

/** Sessions (AUTH-5): every signed-in device, this one marked; end one, or all the others. */
export function Sessions() {
  const list = useLoad(() => api<{ sessions: SessionInfo[] }>("GET", "/v1/me/sessions"), []);
  const [message, setMessage] = useState("");
  const sessions = list.data?.sessions ?? [];
  return (
    <Page
      title="Sessions"
      lead="Where your account is signed in. End any session you don't recognise, then change your password."
    >
      {message ? <Notice kind="ok">{message}</Notice> : null}
      {list.error ? <Notice kind="error">{list.error}</Notice> : null}
      {list.loading && !list.data ? <Loading /> : null}
      <ul class="rows" aria-label="Sessions">
        {sessions.map((s) => (
          <li key={s.id} class="row">
            <div>
              <strong>{device(s.userAgent)}</strong>
              {s.current ? <span class="badge">This device</span> : null}
              {s.impersonatedBy ? <span class="badge warn">Platform admin</span> : null}
              <p class="muted">
                {s.ip ?? "unknown address"} · signed in {when(s.createdAt)} · last active {when(s.lastSeenAt)}
              </p>
            </div>
            {s.current ? null : (
              <ConfirmButton
                small
                label="Sign out"
                title="End this session?"
                confirm="End session"
                onConfirm={async () => {
                  await api("DELETE", `/v1/me/sessions/${s.id}`);
                  setMessage(`The session on ${device(s.userAgent)} has ended.`);
                  list.reload();
                }}
              >
                <p>{device(s.userAgent)} will be signed out at once.</p>
              </ConfirmButton>
            )}
          </li>
        ))}
      </ul>
      {sessions.length > 1 ? (
        <ConfirmButton
          label="Sign out all other sessions"
          title="Sign out everywhere else?"
          confirm="Sign out the others"
          onConfirm={async () => {
            const r = await api<{ revoked: number }>("DELETE", "/v1/me/sessions");
            setMessage(`${r.revoked} other session${r.revoked === 1 ? "" : "s"} ended.`);
            list.reload();
          }}
        >
          <p>Every session but this one ends at once.</p>
        </ConfirmButton>
      ) : null}
    </Page>
  );
}
