/** A product row. `org_id` makes it tenant data: reachable only inside the organisation's scope. */
export interface ProductRow {
  id: string;
  org_id: string;
  name: string;
  sku: string;
  price_cents: number;
  stock: number;
  /** Sanitised on write (INPUT-4): stored HTML is always harmless. */
  description_html: string;
  /** The product's image: an upload of the organisation (DATA-3), attached when set. */
  image_upload_id: string | null;
  created_at: number;
  updated_at: number;
}

export type OrderStatus = "pending" | "paid" | "shipped" | "delivered" | "cancelled" | "refunded";

export interface OrderRow {
  id: string;
  org_id: string;
  status: OrderStatus;
  total_cents: number;
  /** The principal that placed it: a user, or an API key. */
  created_by: string;
  created_at: number;
  updated_at: number;
}

export interface OrderLineRow {
  id: string;
  org_id: string;
  order_id: string;
  product_id: string;
  quantity: number;
  unit_price_cents: number;
}

// The catalog's tables, actions and error codes, declared through Bulwark's public entry point exactly
// as an app outside this repository would.
declare module "bulwark" {
  interface Tables {
    products: ProductRow;
    orders: OrderRow;
    order_lines: OrderLineRow;
  }
  interface Actions {
    "products:read": true;
    "products:write": true;
    "orders:read": true;
    "orders:write": true;
  }
  interface ErrorCodes {
    SKU_TAKEN: true;
    PRODUCT_UNKNOWN: true;
    ORDER_TRANSITION_INVALID: true;
    ORDER_CHANGED: true;
  }
}
