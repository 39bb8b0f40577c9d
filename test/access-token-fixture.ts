import { ROLES } from "../src/orgs/permissions.js";
import type { CredentialFixture, Headers, World } from "./security-suite.js";

const memo = new WeakMap<World, Map<string, Promise<string>>>();

/** Mints an access token through the API from a session (memoised per world, session and scopes). */
function tokenFor(w: World, session: Headers, org: string, scopes?: readonly string[]): Promise<string> {
  const m = memo.get(w) ?? new Map<string, Promise<string>>();
  memo.set(w, m);
  const id = `${session.cookie}|${org}|${scopes?.join(" ") ?? "*"}`;
  let token = m.get(id);
  if (!token) {
    token = w
      .call("POST", "/v1/auth/token", session, { orgId: org, ...(scopes ? { scopes } : {}) })
      .then((res) => {
        if (res.statusCode !== 201) throw new Error(`minting a token: ${res.statusCode} ${res.body}`);
        return res.json().accessToken as string;
      });
    m.set(id, token);
  }
  return token;
}

const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });

/**
 * Access tokens (AUTH-9): the owner's token with every scope; for a missing action, the owner's token
 * with every scope but it, and each role's own token where the role lacks it (a token never reaches
 * beyond its user's role, whatever its scopes).
 */
export const accessTokenFixture: CredentialFixture = {
  kind: "access_token",
  full: async (w, org) =>
    bearer(
      await tokenFor(w, org === "A" ? w.sessions.ownerA : w.sessions.ownerB, org === "A" ? w.orgA : w.orgB),
    ),
  lacking: async (w, action) => {
    const all = (await w.call("POST", "/v1/auth/token", w.sessions.ownerA, { orgId: w.orgA })).json()
      .scopes as string[];
    const without = all.filter((s) => s !== action);
    const out = [
      {
        label: `scopes without ${action}`,
        headers: bearer(await tokenFor(w, w.sessions.ownerA, w.orgA, without)),
      },
    ];
    for (const role of ROLES.filter((r) => r !== "OWNER" && !w.t.app.bulwark.permissions.can(r, action)))
      out.push({ label: `${role}'s token`, headers: bearer(await tokenFor(w, w.sessions[role], w.orgA)) });
    return out;
  },
};
