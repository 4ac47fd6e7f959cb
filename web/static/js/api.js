// The HTTP API client: JSON in and out, the session cookie, and the one
// error shape {"error":{"code","message"}} turned into ApiError.
import { t, has } from "./i18n.js";

// Request ids and idempotency keys come from crypto.randomUUID, which
// browsers give only to secure contexts (HTTPS, localhost): a phone that
// opens the pages at this machine's address on the local network over plain
// HTTP has none, and chat and buying would fail. getRandomValues exists
// everywhere; make the same version 4 UUID from it.
if (typeof crypto.randomUUID !== "function") {
  crypto.randomUUID = () => {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
    const x = Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
  };
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
  // text is what a person reads: a localized summary, then the server's words.
  text() {
    const k = "err." + this.code;
    const head = has(k) ? t(k) : t("err.generic");
    return this.message && this.message !== head ? `${head} ${this.message}` : head;
  }
}

export async function api(method, path, body, headers = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "network", e.message);
  }
  if (res.status === 204) return null;
  const type = res.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    const err = data?.error || {};
    throw new ApiError(res.status, err.code || "http_" + res.status, err.message || res.statusText);
  }
  return data ?? {};
}

// upload sends a picture file as it is (its bytes, its type) to path and
// answers the JSON reply.
async function upload(path, file) {
  let res;
  try {
    res = await fetch(path, {
      method: "POST", credentials: "same-origin", body: file,
      headers: { Accept: "application/json", "Content-Type": file.type || "application/octet-stream" },
    });
  } catch (e) {
    throw new ApiError(0, "network", e.message);
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data?.error?.code || "http_" + res.status, data?.error?.message || res.statusText);
  return data;
}

// uploadImage stores a picture in a brand's image store and answers the
// stored image: {url, srcset, …}.
export const uploadImage = async (brandID, file) => (await upload(`/api/brands/${brandID}/images`, file)).image;

// uploadAvatar makes a picture the signed-in host's or brand admin's own and
// answers the updated user.
export const uploadAvatar = async (file) => (await upload("/api/me/avatar", file)).user;

export const get = (p) => api("GET", p);
export const post = (p, b, h) => api("POST", p, b, h);
export const patch = (p, b) => api("PATCH", p, b);
export const del = (p) => api("DELETE", p);

// me is the signed-in user, or null.
export async function me() {
  try {
    return (await get("/api/me")).user;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

export const hasRole = (u, r) => !!u && (u.roles || []).includes(r);

// productIndex maps a brand's SKU ids to their product and SKU.
export async function productIndex(brandID) {
  const { products } = await get(`/api/brands/${brandID}/products`);
  const bySKU = new Map();
  for (const p of products) for (const s of p.skus || []) bySKU.set(s.id, { product: p, sku: s });
  return { products, bySKU };
}

// skuLabel names a SKU by its attributes ("noir", "40").
export const skuLabel = (sku) => Object.values(sku?.attributes || {}).join(" · ") || sku?.code || "";
