import type { Principal } from "../src/auth/principal.js";
import type { Extension } from "../src/orgs/extension.js";
import { type CredentialFixture, securitySuite, type World } from "./security-suite.js";

// A credential kind that exists only in this test: a header naming an organisation and scopes. It stands
// for what API keys and access tokens will be (org-bound, scoped, sent by the caller, not a cookie).
declare module "bulwark" {
  interface PrincipalKinds {
    probe: true;
  }
  interface Actions {
    "notes:read": true;
    "notes:write": true;
  }
}

const HEADER = "x-probe-principal";

/** An extension with its own actions, whose routes accept the probe kind beside portal sessions. */
const notes: Extension = {
  name: "probe-notes",
  actions: { "notes:read": ["ADMIN", "MEMBER", "VIEWER"], "notes:write": ["ADMIN", "MEMBER"] },
  routes: (tenant) => {
    for (const [method, action] of [
      ["GET", "notes:read"],
      ["DELETE", "notes:write"],
    ] as const)
      tenant.route({
        method,
        url: "/probe-notes",
        action,
        security: { accepts: ["user", "probe"] },
        handler: async ({ orgId, principal }) => ({ orgId, kind: principal.kind }),
      });
  },
};

const probeFixture: CredentialFixture = {
  kind: "probe",
  full: (w: World, org) => ({
    [HEADER]: `${org === "A" ? w.orgA : w.orgB};${w.t.app.bulwark.permissions.actions.join(",")}`,
  }),
  lacking: (w, action) => [
    {
      label: `scopes without ${action}`,
      headers: {
        [HEADER]: `${w.orgA};${w.t.app.bulwark.permissions.actions.filter((a) => a !== action).join(",")}`,
      },
    },
  ],
};

securitySuite("a credential kind stubbed in the test", {
  extensions: [notes],
  fixtures: [probeFixture],
  setup: (app) => {
    app.bulwark.guard.addCredential({
      kind: "probe",
      read: (request) => {
        const v = request.headers[HEADER];
        return typeof v === "string" ? v : undefined;
      },
      resolve: (value): Principal | null => {
        const [orgId, scopes] = value.split(";");
        if (!orgId || scopes === undefined) return null;
        return {
          kind: "probe",
          id: `prb_${orgId}`,
          userId: undefined,
          email: null,
          tenancy: { kind: "organisation", orgId, scopes: new Set(scopes.split(",")) },
          via: "header",
          impersonator: undefined,
          session: undefined,
        };
      },
    });
  },
});
