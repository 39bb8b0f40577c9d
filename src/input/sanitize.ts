import sanitizeHtml from "sanitize-html";

/**
 * Rich-text sanitising on write (INPUT-4), with an explicit whitelist: paragraphs, headings, lists,
 * basic formatting, links (http, https, mailto) and images (https only). Everything else is removed:
 * scripts, styles, iframes, objects, forms, event handlers, `style` attributes, and any URL whose scheme
 * is not listed (`javascript:`, `data:`, `vbscript:`, protocol-relative). sanitize-html, not DOMPurify:
 * isomorphic-dompurify ran out of a 4 GB heap after ~6,000 calls on this Node (ARCHITECTURE.md).
 */
const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: [
    "p",
    "br",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "blockquote",
    "pre",
    "code",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "sub",
    "sup",
    "hr",
    "a",
    "img",
  ],
  allowedAttributes: { a: ["href", "title"], img: ["src", "alt", "title", "width", "height"] },
  allowedSchemes: ["http", "https", "mailto"],
  allowedSchemesByTag: { img: ["https"] },
  allowedSchemesAppliedToAttributes: ["href", "src"],
  allowProtocolRelative: false,
  disallowedTagsMode: "discard",
  // Links leave the page without handing it a window.opener or a referrer.
  transformTags: {
    a: sanitizeHtml.simpleTransform("a", { rel: "noopener noreferrer nofollow" }),
    // Schemes are checked only when a URL has one; an image must be an absolute https URL, nothing else.
    img: (tagName, attribs) => {
      const { src, ...rest } = attribs;
      return { tagName, attribs: src && /^https:\/\/[^\s]/i.test(src) ? { src, ...rest } : rest };
    },
  },
  enforceHtmlBoundary: true,
};
OPTIONS.allowedAttributes = {
  ...(OPTIONS.allowedAttributes as Record<string, string[]>),
  a: ["href", "title", "rel"],
};

/** The whitelisted, harmless form of untrusted HTML. Idempotent. */
export function sanitizeRichText(html: string): string {
  return sanitizeHtml(html, OPTIONS);
}
