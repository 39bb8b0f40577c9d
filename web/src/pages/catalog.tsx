import { useState } from "preact/hooks";
import { api } from "../api.js";
import { str } from "../fields.js";
import { describe } from "../messages.js";
import { PagedRows, usePaged } from "../paged.js";
import { localImagesOnly } from "../rich-text.js";
import { ConfirmButton, Field, Form, Notice, Page, useLoad, when } from "../ui.js";
import { onThisServer, uploadFile } from "../uploads.js";
import type { Org } from "./orgs.js";

interface Product {
  id: string;
  name: string;
  sku: string;
  priceCents: number;
  stock: number;
  descriptionHtml: string;
  imageUrl: string | null;
}
interface Order {
  id: string;
  status: string;
  totalCents: number;
  lines: Array<{ productId: string; quantity: number; unitPriceCents: number }>;
  createdAt: string;
}
const money = (cents: number) =>
  (cents / 100).toLocaleString(undefined, { style: "currency", currency: "EUR" });
const canWrite = (org: Org) => org.role !== "VIEWER";
/** The image types the server accepts by default (UPLOAD_CONTENT_TYPES); it checks again. */
const IMAGE_TYPES = "image/png,image/jpeg,image/webp,image/gif";

/**
 * The example catalog's products: tenant data at work. A description is rich text; the server sanitises it
 * (INPUT-2) and the screen shows the sanitised HTML, so what a colleague typed renders as formatting and
 * never as script (and the console's CSP would refuse an inline script anyway).
 */
export function Products(props: { org: Org }) {
  const { org } = props;
  const [message, setMessage] = useState("");
  const [error, setError] = useState("");
  const list = usePaged<Product>(
    "products",
    (after) => `/v1/orgs/${org.id}/products?limit=20${after ? `&after=${after}` : ""}`,
    [org.id],
  );
  return (
    <Page
      title={`${org.name}: products`}
      lead="The example catalog: an app's own tenant data, on Bulwark's extension API."
    >
      {message ? <Notice kind="ok">{message}</Notice> : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      <PagedRows
        list={list}
        label="Products"
        empty="No products yet."
        row={(p) => (
          <li key={p.id} class="row product">
            {p.imageUrl ? (
              <img class="thumb" src={onThisServer(p.imageUrl)} alt={p.name} width={64} height={64} />
            ) : null}
            <div>
              <strong>{p.name}</strong> <span class="muted">{p.sku}</span>
              <p class="muted">
                {money(p.priceCents)} · {p.stock} in stock
              </p>
              {/* Sanitised by the server (allow-list HTML): formatting only. */}
              <div
                class="rich"
                data-testid="description"
                dangerouslySetInnerHTML={{ __html: localImagesOnly(p.descriptionHtml) }}
              />
            </div>
            {canWrite(org) ? (
              <div class="row-actions">
                <label class="button small">
                  {p.imageUrl ? "Change image" : "Add image"}
                  <input
                    type="file"
                    class="visually-hidden"
                    accept={IMAGE_TYPES}
                    aria-label={`Image for ${p.name}`}
                    onChange={async (e) => {
                      const input = e.currentTarget;
                      const file = input.files?.[0];
                      if (!file) return;
                      setError("");
                      try {
                        const imageUploadId = await uploadFile(org.id, file);
                        await api("PATCH", `/v1/orgs/${org.id}/products/${p.id}`, { imageUploadId });
                        setMessage(`${p.name} has a new image.`);
                        list.reload();
                      } catch (err) {
                        setMessage("");
                        setError(describe(err));
                      } finally {
                        // The same file can be chosen again (after a refusal, say).
                        input.value = "";
                      }
                    }}
                  />
                </label>
                <ConfirmButton
                  small
                  label="Delete"
                  title={`Delete ${p.name}?`}
                  confirm="Delete product"
                  onConfirm={async () => {
                    await api("DELETE", `/v1/orgs/${org.id}/products/${p.id}`);
                    setMessage(`${p.name} was deleted.`);
                    list.reload();
                  }}
                >
                  <p>Orders that include it keep their lines.</p>
                </ConfirmButton>
              </div>
            ) : null}
          </li>
        )}
      />
      {canWrite(org) ? (
        <>
          <h2>New product</h2>
          <div class="card">
            <Form
              submit="Add product"
              label="New product"
              resetOnSuccess
              onSubmit={async (d) => {
                setError("");
                // The file goes to storage first (never through the API); the product names the upload.
                const image = d.get("image");
                const imageUploadId =
                  image instanceof File && image.size > 0 ? await uploadFile(org.id, image) : undefined;
                const r = await api<{ product: Product }>("POST", `/v1/orgs/${org.id}/products`, {
                  ...(imageUploadId ? { imageUploadId } : {}),
                  name: str(d, "name"),
                  sku: str(d, "sku"),
                  priceCents: Math.round(Number(str(d, "price")) * 100),
                  stock: Number(str(d, "stock")),
                  descriptionHtml: str(d, "descriptionHtml"),
                });
                setMessage(`${r.product.name} was added.`);
                list.reload();
              }}
            >
              <Field name="name" label="Name" required maxLength={200} />
              <Field name="sku" label="SKU" required maxLength={64} pattern="[A-Za-z0-9._\-]+" />
              <Field
                name="price"
                label="Price (EUR)"
                type="number"
                required
                min={0}
                step="0.01"
                inputMode="decimal"
              />
              <Field name="stock" label="Stock" type="number" required min={0} step="1" value="0" />
              <div class="field">
                <label for="descriptionHtml">Description (HTML allowed: bold, lists, links)</label>
                <textarea id="descriptionHtml" name="descriptionHtml" rows={4} maxLength={20000} />
              </div>
              <div class="field">
                <label for="image">Image (optional: PNG, JPEG, WebP or GIF)</label>
                <input id="image" name="image" type="file" accept={IMAGE_TYPES} />
              </div>
            </Form>
          </div>
        </>
      ) : null}
    </Page>
  );
}

const NEXT: Record<string, string[]> = {
  pending: ["paid", "cancelled"],
  paid: ["shipped", "refunded", "cancelled"],
  shipped: ["delivered", "refunded"],
  delivered: ["refunded"],
};

/** Orders of the example catalog: place one from a product, and move it along its states. */
export function Orders(props: { org: Org }) {
  const { org } = props;
  const [message, setMessage] = useState("");
  const [error, setError] = useState("");
  const orders = useLoad(() => api<{ orders: Order[] }>("GET", `/v1/orgs/${org.id}/orders`), [org.id]);
  const products = useLoad(
    () => api<{ products: Product[] }>("GET", `/v1/orgs/${org.id}/products?limit=100`),
    [org.id],
  );
  const names = new Map((products.data?.products ?? []).map((p) => [p.id, p.name]));
  const choices = products.data?.products ?? [];
  return (
    <Page title={`${org.name}: orders`}>
      {message ? <Notice kind="ok">{message}</Notice> : null}
      {error || orders.error ? <Notice kind="error">{error || orders.error}</Notice> : null}
      {orders.data && orders.data.orders.length === 0 ? <p class="muted">No orders yet.</p> : null}
      <ul class="rows" aria-label="Orders">
        {(orders.data?.orders ?? []).map((o) => (
          <li key={o.id} class="row">
            <div>
              <strong>{money(o.totalCents)}</strong> <span class="badge">{o.status}</span>
              <p class="muted">
                {o.lines
                  .map((l) => `${l.quantity} × ${names.get(l.productId) ?? "deleted product"}`)
                  .join(", ")}{" "}
                · {when(o.createdAt)}
              </p>
            </div>
            {canWrite(org) && NEXT[o.status] ? (
              <div class="row-actions">
                {(NEXT[o.status] ?? []).map((s) => (
                  <button
                    type="button"
                    class="small"
                    key={s}
                    onClick={async () => {
                      setError("");
                      try {
                        await api("PATCH", `/v1/orgs/${org.id}/orders/${o.id}`, { status: s });
                        setMessage(`The order is now ${s}.`);
                        orders.reload();
                      } catch (err) {
                        setError(describe(err));
                      }
                    }}
                  >
                    Mark {s}
                  </button>
                ))}
              </div>
            ) : null}
          </li>
        ))}
      </ul>
      {canWrite(org) && choices.length ? (
        <>
          <h2>New order</h2>
          <div class="card">
            <Form
              submit="Place order"
              label="New order"
              onSubmit={async (d) => {
                await api("POST", `/v1/orgs/${org.id}/orders`, {
                  lines: [{ productId: str(d, "productId"), quantity: Number(str(d, "quantity")) }],
                });
                setMessage("The order was placed.");
                orders.reload();
              }}
            >
              <div class="field">
                <label for="productId">Product</label>
                <select id="productId" name="productId">
                  {choices.map((p) => (
                    <option key={p.id} value={p.id}>
                      {p.name}
                    </option>
                  ))}
                </select>
              </div>
              <Field name="quantity" label="Quantity" type="number" required min={1} step="1" value="1" />
            </Form>
          </div>
        </>
      ) : null}
    </Page>
  );
}
