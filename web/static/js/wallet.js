// The buyer's wallet: saved addresses (the one used last comes first and is
// chosen by default), the remembered card (its label only: the server keeps
// the provider's reference and never a card number), and the country list,
// named in the reader's language.
import { t, current } from "./i18n.js";
import { h, clear } from "./dom.js";
import { get } from "./api.js";

// COUNTRIES are the ISO 3166-1 alpha-2 codes; names come from Intl.
const COUNTRIES = ("AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
  "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
  "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
  "KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
  "NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
  "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ " +
  "UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW").split(" ");

export function countryName(code) {
  try {
    return new Intl.DisplayNames([current()], { type: "region" }).of(code) || code;
  } catch {
    return code;
  }
}

// fillCountries lists every country by name in select, keeping its choice,
// or choosing the reader's own region the first time.
export function fillCountries(select) {
  const chosen = select.value || (navigator.language.split("-")[1] || "").toUpperCase();
  const names = new Intl.Collator(current());
  const list = COUNTRIES.map((c) => [c, countryName(c)]).sort((a, b) => names.compare(a[1], b[1]));
  clear(select).append(h("option", { value: "", text: t("co.country.choose") }),
    ...list.map(([c, n]) => h("option", { value: c, text: n })));
  select.value = COUNTRIES.includes(chosen) ? chosen : "";
}

// addressLine is one address on one line, as a picker shows it.
export const addressLine = (a) =>
  [a.name, a.line1, a.line2, [a.postal_code, a.city].filter(Boolean).join(" "), countryName(a.country)].filter(Boolean).join(", ");

// loadWallet answers {addresses, method} for the signed-in buyer; a server
// without a wallet answers an empty one.
export async function loadWallet() {
  const [a, m] = await Promise.all([
    get("/api/me/addresses").catch(() => ({ addresses: [] })),
    get("/api/me/payment-method").catch(() => ({ payment_method: null })),
  ]);
  return { addresses: a.addresses || [], method: m.payment_method || null };
}
