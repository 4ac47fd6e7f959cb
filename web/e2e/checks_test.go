package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshots writes the page at phone and desktop sizes to
// web/e2e/screenshots/<name>-phone.png and -desktop.png: the whole page, or
// only the viewport while a modal sheet is open (the sheet and its backdrop
// are fixed to the viewport).
func (u *user) screenshots(name string) {
	u.t.Helper()
	dir := "screenshots"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		u.t.Fatal(err)
	}
	for _, size := range []struct {
		label string
		w, h  int64
		opts  []chromedp.EmulateViewportOption
	}{
		{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateScale(2), chromedp.EmulateMobile}},
		{"desktop", 1440, 900, nil},
	} {
		u.do("resize to "+size.label, chromedp.EmulateViewport(size.w, size.h, size.opts...), chromedp.Sleep(400*time.Millisecond))
		shot := chromedp.FullScreenshot(100)
		if eval[bool](u, `!!document.querySelector("dialog[open]")`) {
			shot = chromedp.CaptureScreenshot()
		}
		png, err := chromedp.Run(u.ctx, shot)
		if err != nil {
			u.t.Fatalf("%s: screenshot %s: %v", u.name, name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+size.label+".png"), png, 0o644); err != nil {
			u.t.Fatal(err)
		}
	}
	u.do("reset the viewport", chromedp.EmulateViewport(1440, 900))
}

// a11yScript lists what fails the basics on the current page: a control
// without an accessible name, a positive tabindex, a main action (.primary,
// .danger) whose text contrast is under 4.5:1.
const a11yScript = `(() => {
  const problems = [];
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length) && !el.closest("[hidden]");
  const text = (el) => (el.textContent || "").replace(/\s+/g, " ").trim();
  const byIds = (ids) => ids.split(/\s+/).map((id) => document.getElementById(id)).filter(Boolean).map(text).join(" ").trim();
  const name = (el) => {
    if (el.getAttribute("aria-label")) return el.getAttribute("aria-label").trim();
    if (el.getAttribute("aria-labelledby")) return byIds(el.getAttribute("aria-labelledby"));
    if (el.labels && el.labels.length) return [...el.labels].map(text).join(" ").trim();
    if (el.matches("button, a, [role=button], summary")) return text(el) || el.getAttribute("title") || "";
    return el.getAttribute("title") || "";
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "");
  for (const el of document.querySelectorAll("input:not([type=hidden]), select, textarea, button, a[href], [role=button], video[controls]")) {
    if (!visible(el)) continue;
    if (!name(el)) problems.push("no accessible name: " + describe(el));
  }
  for (const el of document.querySelectorAll("[tabindex]")) {
    if (el.tabIndex > 0) problems.push("positive tabindex: " + describe(el));
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push("img without alt: " + img.src);
  }
  const rgb = (s) => { const m = s.match(/[\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; };
  const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bg = (el) => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length < 4 || c[3] > 0) return c; } return [255, 255, 255]; };
  let checked = 0;
  for (const el of document.querySelectorAll(".primary, .danger, .secondary")) {
    if (!visible(el) || el.disabled) continue;
    const fg = lum(rgb(getComputedStyle(el).color)), back = lum(bg(el));
    const ratio = (Math.max(fg, back) + 0.05) / (Math.min(fg, back) + 0.05);
    checked++;
    if (ratio < 4.5) problems.push("contrast " + ratio.toFixed(2) + ":1 on " + describe(el) + " (" + text(el) + ")");
  }
  if (!document.documentElement.lang) problems.push("no lang on <html>");
  if (!document.title) problems.push("no title");
  return {problems, checked};
})()`

type a11yResult struct {
	Problems []string `json:"problems"`
	Checked  int      `json:"checked"`
}

// checkA11y runs the basics on the page as it is now.
func (u *user) checkA11y(page string) {
	u.t.Helper()
	r := eval[a11yResult](u, a11yScript)
	if len(r.Problems) > 0 {
		u.t.Errorf("%s: accessibility on %s:\n  %s", u.name, page, strings.Join(r.Problems, "\n  "))
	}
	if r.Checked == 0 {
		u.t.Errorf("%s: %s has no main action to check the contrast of", u.name, page)
	}
}

// checkTabOrder reloads the page (so focus starts at the top) and walks the
// first tab stops: the skip link comes first, and focus moves forward
// through the document, never back, never to something unseen, and always
// with a visible focus ring. ready is the
// page's drawn-and-loaded condition.
func (u *user) checkTabOrder(page, ready string) {
	u.t.Helper()
	tab := u
	path := page
	tab.do("reload", chromedp.Reload())
	tab.waitFor("the page", ready, 10*time.Second)
	var prev string
	for i := range 10 {
		tab.do("press Tab", chromedp.KeyEvent("\t"))
		got := eval[string](tab, `(() => {
		  const a = document.activeElement;
		  if (!a || a === document.body) return "body";
		  if (!window.__tabSeen) window.__tabSeen = [];
		  const last = window.__tabSeen[window.__tabSeen.length - 1];
		  window.__tabSeen.push(a);
		  const forward = !last || (last.compareDocumentPosition(a) & Node.DOCUMENT_POSITION_FOLLOWING);
		  const box = a.getBoundingClientRect();
		  const shown = box.width > 0 && box.height > 0;
		  const ring = getComputedStyle(a).outlineStyle !== "none" || getComputedStyle(a).boxShadow !== "none";
		  return (forward ? "" : "BACKWARD ") + (shown ? "" : "INVISIBLE ") + (ring ? "" : "NORING ") + a.tagName.toLowerCase() + (a.id ? "#" + a.id : "") + "." + (a.className || "") + " " + (a.textContent || a.getAttribute("aria-label") || "").trim().slice(0, 30);
		})()`)
		if i == 0 && !strings.Contains(got, "skip") {
			u.t.Errorf("%s: first tab stop on %s is %q, want the skip link", u.name, path, got)
		}
		if got == "body" && i >= 3 {
			break // past the last control: focus left the page
		}
		if strings.HasPrefix(got, "BACKWARD") || strings.HasPrefix(got, "INVISIBLE") || strings.HasPrefix(got, "NORING") || got == "body" {
			u.t.Errorf("%s: tab stop %d on %s went to %q (after %q)", u.name, i+1, path, got, prev)
			break
		}
		prev = got
	}
}
