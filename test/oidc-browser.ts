import { expect } from "vitest";

/**
 * A browser as an OpenID Connect flow needs one, without the rendering: a cookie jar (path-scoped, as
 * the provider's interaction cookie is) and redirects followed by hand, so a test sees where each one
 * goes and stops at the client's redirect URI.
 */
export class FlowBrowser {
  private readonly jar = new Map<string, { value: string; path: string }>();
  csrf = "";

  constructor(readonly base: string) {}

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
    const res = await fetch(u, { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) {
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
