// Pictures: an uploaded image (/media/{id}) is offered at several widths
// through srcset, so a phone gets a small file and a sharp screen a large
// one; any other URL is used as it is.
import { h } from "./dom.js";

// WIDTHS are the widths the server keeps of every image (internal/images).
export const WIDTHS = [160, 320, 640, 1280];
const MEDIA = /^\/media\/[0-9a-f]{32}$/;

// srcAttrs gives src, srcset and sizes for url drawn at sizes (a sizes
// attribute value, e.g. "96px" or "100vw").
export function srcAttrs(url, sizes) {
  if (!MEDIA.test(url || "")) return { src: url };
  return { src: `${url}/640`, srcset: WIDTHS.map((w) => `${url}/${w} ${w}w`).join(", "), sizes };
}

// picture makes an <img> of url (decorative unless alt is given), or a blank
// box of the same class when there is no url.
export function picture(url, { sizes = "96px", alt = "", cls = null, width = null, height = null, eager = false } = {}) {
  if (!url) return h("div", { class: "noimg" + (cls ? " " + cls : ""), "aria-hidden": "true" });
  return h("img", { ...srcAttrs(url, sizes), alt, class: cls, width, height, loading: eager ? null : "lazy", decoding: "async" });
}

// setPicture points an existing <img> at url (or hides it without one).
export function setPicture(img, url, sizes) {
  img.hidden = !url;
  if (!url) { img.removeAttribute("src"); img.removeAttribute("srcset"); return; }
  const a = srcAttrs(url, sizes);
  if (a.srcset) { img.srcset = a.srcset; img.sizes = a.sizes; } else img.removeAttribute("srcset");
  if (img.getAttribute("src") !== a.src) img.src = a.src;
}

// variantImage picks a SKU's picture: a product with one image per SKU
// lists them in the SKUs' order (the bag in noir, then in ivoire); else the
// product's first image stands for every SKU.
export function variantImage(product, sku) {
  const imgs = product?.images || [];
  const skus = product?.skus || [];
  if (sku && imgs.length > 1 && imgs.length === skus.length) {
    const i = skus.findIndex((s) => s.id === sku.id);
    if (i >= 0) return imgs[i];
  }
  return imgs[0] || "";
}
