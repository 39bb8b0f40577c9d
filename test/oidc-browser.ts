import { expect } from "vitest";

/**
 * A browser as an OpenID Connect flow needs one, without the rendering: a cookie jar (path-scoped, as
 * the provider's interaction cookie is) and redirects followed by hand, so a test sees where each one
 * goes and stops at the client's redirect URI.
 */
export class FlowBrowser {
  private readonly jar = new Map<string, { value: string; path: string }>();
  csrf = "";
  /** Every Set-Cookie line the server sent this browser, in order. */
  readonly setCookies: string[] = [];

  /** `send` reaches the server: the network by default, or app.inject (injectFetch) for a production app. */
  constructor(
    readonly base: string,
    private readonly send: typeof fetch = fetch,
  ) {}

  cookieFor(url: URL): string {
    return [...this.jar]
      .filter(([, c]) => url.pathname.startsWith(c.path))
      .map(([name, c]) => `${name}=${c.value}`)
      .join("; ");
  }

  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const u = new URL(url, this.base);
    const headers = new Headers(init.headers);
    const cookie = this.cookieFor(u);
    if (cookie) headers.set("cookie", cookie);
    const res = await this.send(u, { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
      this.setCookies.push(line);
      const [pair = "", ...attrs] = line.split(";").map((s) => s.trim());
      const eq = pair.indexOf("=");
      const path = attrs.find((a) => a.toLowerCase().startsWith("path="))?.slice(5) ?? "/";
      const expired = attrs.some((a) => /^expires=Thu, 01 Jan 1970/i.test(a) || /^max-age=0$/i.test(a));
      if (expired) this.jar.delete(pair.slice(0, eq));
      else this.jar.set(pair.slice(0, eq), { value: pair.slice(eq + 1), path });
    }
    return res;
  }

  /**
   * Follows redirects from `url` until an answer that is not one, or an address outside this server. A
   * page that submits its own form on load (the provider's "Submitting Callback") is submitted, as a
   * browser running its script would.
   */
  async go(url: string | URL): Promise<URL> {
    let at = new URL(url, this.base);
    let res: Response | undefined;
    for (let hops = 0; hops < 10; hops++) {
      if (at.origin !== new URL(this.base).origin) return at;
      res = await this.fetch(at);
      const location = res.headers.get("location");
      if (res.status === 200 && res.headers.get("content-type")?.startsWith("text/html")) {
        const html = await res.text();
        const form = /<title>Submitting Callback<\/title>[\s\S]*<form method="post" action="([^"]+)">/.exec(
          html,
        );
        if (!form) return at;
        const fields = new URLSearchParams();
        for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/>/g))
          fields.set(m[1]!, m[2]!);
        const posted = await this.fetch(form[1]!, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: fields.toString(),
        });
        const next = posted.headers.get("location");
        if (!next) return new URL(form[1]!);
        at = new URL(next, form[1]!);
        continue;
      }
      if (res.status < 300 || res.status >= 400 || !location) return at;
      at = new URL(location, at);
    }
    throw new Error("too many redirects");
  }

  async signIn(email: string, password: string): Promise<void> {
    const res = await this.fetch("/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    this.csrf = ((await res.json()) as { csrfToken: string }).csrfToken;
  }

  /** A JSON call with the session cookie and CSRF token, as the console makes it. */
  async api(method: string, path: string, body?: unknown): Promise<Response> {
    return this.fetch(path, {
      method,
      headers: {
        "x-csrf-token": this.csrf,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }
}

/**
 * A fetch that answers from `app.inject`, as a TLS-terminating proxy on 127.0.0.1 would forward it
 * (X-Forwarded-Proto https): for a production app, whose HTTPS policy and Secure cookies need it.
 */
export function injectFetch(app: {
  inject: (o: object) => Promise<{ statusCode: number; headers: Record<string, unknown>; body: string }>;
}): typeof fetch {
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : input);
    const req = input instanceof Request ? input : undefined;
    const headers: Record<string, string> = {};
    new Headers(req?.headers ?? init.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const body = req ? await req.text() : init.body === undefined ? undefined : String(init.body);
    const res = await app.inject({
      method: req?.method ?? init.method ?? "GET",
      url: url.pathname + url.search,
      headers: { ...headers, host: url.host, "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9" },
      remoteAddress: "127.0.0.1",
      ...(body ? { payload: body } : {}),
    });
    const out = new Headers();
    for (const [k, v] of Object.entries(res.headers))
      for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) out.append(k, String(one));
    const empty = res.statusCode === 204 || res.statusCode === 304;
    return new Response(empty ? null : res.body, { status: res.statusCode, headers: out });
  }) as typeof fetch;
}
