import "./styles.css";
import { render } from "preact";
import { AdminFrame, PortalFrame, PublicFrame } from "./layout.js";
import { Account } from "./pages/account.js";
import { AdminJobs, AdminOrgs, AdminSignIn, AdminUsers } from "./pages/admin.js";
import { ApiKeys } from "./pages/apikeys.js";
import { AdminAudit, OrgAudit } from "./pages/audit.js";
import {
  AcceptInvitation,
  ForgotPassword,
  ResetPassword,
  SignIn,
  SignUp,
  VerifyEmail,
} from "./pages/auth.js";
import { Authorize } from "./pages/authorize.js";
import { Orders, Products } from "./pages/catalog.js";
import { LinkAccount } from "./pages/external.js";
import { Invitations, Members } from "./pages/members.js";
import { OidcClients } from "./pages/oidc-clients.js";
import { OrgSettings, Orgs, WithOrg } from "./pages/orgs.js";
import { Sessions } from "./pages/sessions.js";
import { OrgUsage } from "./pages/usage.js";
import { Webhooks } from "./pages/webhooks.js";
import { match, navigate, useLocation } from "./router.js";
import { useAdmin, useMe } from "./session.js";
import { Loading, Page } from "./ui.js";

const PUBLIC: Record<string, () => preact.JSX.Element | null> = {
  "/": SignIn,
  "/signup": SignUp,
  "/verify-email": VerifyEmail,
  "/forgot-password": ForgotPassword,
  "/reset-password": ResetPassword,
  "/accept-invitation": AcceptInvitation,
  "/link-account": LinkAccount,
};

function NotFound() {
  return (
    <Page title="Page not found">
      <p>
        <a href="/">Go to the start</a>
      </p>
    </Page>
  );
}

/** The portal (tenant users, portal cookie): signed out, it shows sign-in and comes back here after. */
function Portal(props: { path: string }) {
  const me = useMe();
  if (me === undefined) return <Loading />;
  if (me === null) {
    navigate(`/?next=${encodeURIComponent(props.path + location.search)}`, true);
    return null;
  }
  const { path } = props;
  let screen: preact.ComponentChildren;
  if (path === "/app") screen = <Orgs />;
  else if (path === "/app/account") screen = <Account me={me} />;
  else if (path === "/app/sessions") screen = <Sessions />;
  else {
    const m = match("/app/orgs/:orgId", path) ?? match("/app/orgs/:orgId/:tab", path);
    const tab = m?.tab ? `/${m.tab}` : "";
    screen = m?.orgId ? (
      <WithOrg
        orgId={m.orgId}
        tab={tab}
        render={(org, reload) =>
          tab === "" ? (
            <OrgSettings org={org} reload={reload} />
          ) : tab === "/members" ? (
            <Members org={org} me={me} />
          ) : tab === "/invitations" ? (
            <Invitations org={org} />
          ) : tab === "/usage" ? (
            <OrgUsage org={org} />
          ) : tab === "/api-keys" ? (
            <ApiKeys org={org} me={me} />
          ) : tab === "/audit" ? (
            <OrgAudit org={org} />
          ) : tab === "/webhooks" ? (
            <Webhooks org={org} />
          ) : tab === "/sign-in-apps" ? (
            <OidcClients org={org} />
          ) : tab === "/products" ? (
            <Products org={org} />
          ) : tab === "/orders" ? (
            <Orders org={org} />
          ) : (
            <NotFound />
          )
        }
      />
    ) : (
      <NotFound />
    );
  }
  return <PortalFrame me={me}>{screen}</PortalFrame>;
}

/** The platform console (admin cookie only): a portal session never opens it (AUTH-6, AUTHZ-3). */
function Admin(props: { path: string }) {
  const admin = useAdmin();
  if (admin === undefined) return <Loading />;
  if (admin === null)
    return (
      <PublicFrame>
        <AdminSignIn />
      </PublicFrame>
    );
  const screen =
    props.path === "/admin" || props.path === "/admin/users" ? (
      <AdminUsers />
    ) : props.path === "/admin/orgs" ? (
      <AdminOrgs />
    ) : props.path === "/admin/audit" ? (
      <AdminAudit />
    ) : props.path === "/admin/jobs" ? (
      <AdminJobs />
    ) : (
      <NotFound />
    );
  return <AdminFrame email={admin.admin.email}>{screen}</AdminFrame>;
}

function App() {
  const { path } = useLocation();
  if (path === "/app" || path.startsWith("/app/")) return <Portal path={path} />;
  if (path === "/admin" || path.startsWith("/admin/")) return <Admin path={path} />;
  if (path === "/authorize")
    return (
      <PublicFrame>
        <Authorize uid={new URLSearchParams(location.search).get("uid") ?? ""} />
      </PublicFrame>
    );
  const Screen = PUBLIC[path] ?? NotFound;
  return (
    <PublicFrame>
      <Screen />
    </PublicFrame>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
