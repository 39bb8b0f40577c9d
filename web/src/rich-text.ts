/**
 * Sanitised rich text (the server's allow-list HTML) made safe for this page's CSP: an image from another
 * origin would be blocked (img-src 'self') and would tell that origin who looks at the page, so it becomes
 * its alternative text. Parsed into an inert document first: nothing loads while it is examined.
 */
export function localImagesOnly(html: string, origin: string = location.origin): string {
  if (!html.includes("<img")) return html;
  const doc = new DOMParser().parseFromString(html, "text/html");
  for (const img of Array.from(doc.querySelectorAll("img"))) {
    let local = false;
    try {
      local = new URL(img.getAttribute("src") ?? "", origin).origin === origin;
    } catch {
      local = false;
    }
    if (!local) img.replaceWith(doc.createTextNode(img.alt ? `[image: ${img.alt}]` : "[image]"));
  }
  return doc.body.innerHTML;
}
