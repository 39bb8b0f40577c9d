import { api } from "../api.js";
import { str, YourPasswordField } from "../fields.js";
import { Form, Loading, Notice, useLoad } from "../ui.js";

interface Deletion {
  status: "pending" | "erasing" | "none";
  coolingOffDays: number;
  requestedAt?: string;
  dueAt?: string;
}

const day = (iso: string) =>
  new Date(iso).toLocaleString(undefined, { dateStyle: "long", timeStyle: "short" });

/**
 * GDPR-2: deleting the account. The request needs the password (a fresh proof, AUTH-14) and an explicit
 * confirmation; the erasure comes after the cooling-off period, and until then the same card cancels it.
 */
export function AccountDeletion() {
  const state = useLoad(() => api<Deletion>("GET", "/v1/me/deletion"), []);
  if (state.loading && !state.data) return <Loading />;
  if (state.error || !state.data) return <Notice kind="error">{state.error}</Notice>;
  const d = state.data;
  if (d.status === "erasing")
    return (
      <div class="card">
        <Notice kind="warn">The erasure of your account has begun; it can no longer be cancelled.</Notice>
      </div>
    );
  if (d.status === "pending" && d.dueAt)
    return (
      <div class="card" data-testid="deletion-pending">
        <Notice kind="warn">
          Your account will be erased on <strong>{day(d.dueAt)}</strong>. Until then you can cancel, and
          nothing is lost.
        </Notice>
        <Form
          submit="Cancel the deletion"
          label="Cancel the deletion"
          onSubmit={async () => {
            await api("DELETE", "/v1/me/deletion");
            state.reload();
          }}
        />
      </div>
    );
  return (
    <div class="card">
      <p>
        Deleting your account erases it {d.coolingOffDays} days after you ask; until then you can sign in and
        cancel. Then your account, sessions, second factors, passkeys and tokens are deleted, you leave every
        organisation, and what organisations keep of your work (keys, orders) and their audit logs no longer
        name you. If you are the only owner of an organisation with other members, make one of them an owner
        first.
      </p>
      <Form
        submit="Delete my account"
        label="Delete my account"
        danger
        onSubmit={async (data) => {
          await api("POST", "/v1/auth/reauth", { password: str(data, "password") });
          await api("POST", "/v1/me/deletion", {});
          state.reload();
        }}
      >
        <YourPasswordField />
        <label class="check">
          <input type="checkbox" name="confirm" required /> I understand my account will be erased in{" "}
          {d.coolingOffDays} days
        </label>
      </Form>
    </div>
  );
}
