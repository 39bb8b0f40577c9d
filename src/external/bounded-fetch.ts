/** The most a provider may answer to one request: discovery, keys, tokens, userinfo, GitHub's API. */
export const MAX_PROVIDER_ANSWER = 256 * 1024;

/**
 * `inner` with every answer's body limited to `max` bytes: one that says it is longer is refused before
 * its body is read, one that runs on is cut off and fails as it is read. A provider (or whoever answers
 * in its name) can then cost a sign-in at most `max` bytes of memory, however the answer is read
 * (openid-client reads token and discovery answers whole).
 */
export function boundedFetch(inner: typeof fetch, max = MAX_PROVIDER_ANSWER): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const res = await inner(input, init);
    const tooLong = () => new Error(`the provider's answer is longer than ${max} bytes`);
    if (Number(res.headers.get("content-length") ?? 0) > max) {
      await res.body?.cancel().catch(() => {});
      throw tooLong();
    }
    if (!res.body) return res;
    let bytes = 0;
    const limited = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, out) {
          bytes += chunk.byteLength;
          if (bytes > max) out.error(tooLong());
          else out.enqueue(chunk);
        },
      }),
    );
    return new Response(limited, { status: res.status, statusText: res.statusText, headers: res.headers });
  }) as typeof fetch;
}
