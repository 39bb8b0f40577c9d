import type { Mail } from "./mailer.js";

const esc = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

function compose(
  to: string,
  subject: string,
  paragraphs: readonly string[],
  link?: { url: string; label: string },
): Mail {
  const text = [...paragraphs, ...(link ? [`${link.label}: ${link.url}`] : []), "", "— Bulwark"].join("\n\n");
  const html = `<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1b1f24">${paragraphs.map((p) => `<p>${esc(p)}</p>`).join("")}${link ? `<p><a href="${esc(link.url)}">${esc(link.label)}</a></p><p style="color:#57606a;font-size:.9em">${esc(link.url)}</p>` : ""}<p>— Bulwark</p></body></html>`;
  return { to, subject, text, html };
}

/** The plain, readable mails Bulwark sends. Links carry their secret as a `token` query parameter. */
/** Tenant-chosen text as shown in a mail: one line, at most 60 characters, quotes removed. */
const quoted = (text: string): string => {
  const one = text.replace(/[\s“”"]+/g, " ").trim();
  return one.length > 60 ? `${one.slice(0, 59)}…` : one;
};

export const templates = {
  verifyEmail: (to: string, url: string, hours: number): Mail =>
    compose(
      to,
      "Confirm your email address",
      [
        `Confirm that ${to} is your address to finish signing up. The link works once and expires in ${hours} hours.`,
        "If you did not sign up, ignore this mail.",
      ],
      { url, label: "Confirm my email" },
    ),
  alreadyRegistered: (to: string, resetUrl: string): Mail =>
    compose(
      to,
      "Someone tried to sign up with your address",
      [
        `Someone tried to create an account with ${to}, which already has one. If it was you, sign in, or reset your password if you have forgotten it.`,
      ],
      { url: resetUrl, label: "Reset my password" },
    ),
  resetPassword: (to: string, url: string, minutes: number): Mail =>
    compose(
      to,
      "Reset your password",
      [
        `Someone (hopefully you) asked to reset the password of ${to}. The link works once and expires in ${minutes} minutes. Resetting signs you out everywhere.`,
        "If you did not ask, ignore this mail: your password stays as it is.",
      ],
      { url, label: "Choose a new password" },
    ),
  passwordChanged: (to: string): Mail =>
    compose(to, "Your password was changed", [
      `The password of ${to} was just changed, and other sessions were signed out. If this was not you, reset your password now and contact support.`,
    ]),
  /** A passkey signs in alone: its owner hears of every new one (a stolen session must not add one quietly). */
  passkeyAdded: (to: string, name: string, ip: string): Mail =>
    compose(to, "A passkey was added to your account", [
      `A passkey named “${name.slice(0, 60)}” was added to your account ${to} from ${ip}. It can sign in without your password. It is also your second factor after your password. If this was not you, remove it under Account → Passkeys, change your password and sign out other sessions.`,
    ]),
  passkeyRemoved: (to: string, name: string, ip: string, lastFactor: boolean): Mail =>
    compose(to, "A passkey was removed from your account", [
      `The passkey named “${name.slice(0, 60)}” was removed from your account ${to} from ${ip}.${lastFactor ? " It was your last second factor: your password alone now signs in, and your backup codes no longer work." : ""} If this was not you, change your password and sign out other sessions.`,
    ]),
  identityLinked: (to: string, provider: string, asserted: string, ip: string): Mail =>
    compose(to, `${provider.slice(0, 40)} sign-in was linked to your account`, [
      `Signing in with ${provider.slice(0, 40)}${asserted ? ` (as ${asserted.slice(0, 100)})` : ""} now opens your account ${to}; it was linked from ${ip}. If this was not you, remove it under Account → Sign-in methods, change your password and sign out other sessions.`,
    ]),
  newSignIn: (to: string, ip: string, userAgent: string): Mail =>
    compose(to, "New sign-in to your account", [
      `Your account ${to} was just signed in to from ${ip} (${userAgent || "unknown device"}). If this was not you, reset your password and sign out other sessions.`,
    ]),
  /**
   * The organisation's name is chosen by a tenant: it never reaches the subject (where it would read as
   * the sender's own words, "…visit evil.example"), and in the body it is quoted and cut short.
   */
  invitation: (to: string, orgName: string, role: string, url: string, days: number): Mail =>
    compose(
      to,
      "You are invited to join an organisation",
      [
        `You have been invited to join the organisation named “${quoted(orgName)}” as ${role.toLowerCase()}. The link works once, for ${to} only, and expires in ${days} days. If you did not expect this, ignore this mail.`,
      ],
      { url, label: "Accept the invitation" },
    ),
  /** The organisation's name is a tenant's text: quoted in the body, never in the subject. */
  quotaNotice: (
    to: string,
    orgName: string,
    unit: string,
    percent: number,
    used: number,
    allowance: number,
    mode: "refuse" | "warn",
  ): Mail =>
    compose(
      to,
      percent >= 100
        ? "Your organisation's monthly quota is used up"
        : `Your organisation has used ${percent} % of a monthly quota`,
      [
        `The organisation “${quoted(orgName)}” has used ${used} of its ${allowance} ${unit} this month (${percent} %).`,
        percent >= 100
          ? mode === "refuse"
            ? "Further use is refused until the quota renews on the 1st of next month (UTC), unless a platform admin raises it."
            : "Use continues past the allowance; the quota renews on the 1st of next month (UTC)."
          : "You will get one more mail if it is used up this month.",
      ],
    ),
  mfaChanged: (to: string, change: string): Mail =>
    compose(to, "Two-factor authentication changed", [
      `Two-factor authentication on ${to} was ${change}. If this was not you, reset your password now.`,
    ]),
};
