/* Chathub Mini App. Plain JavaScript, no build and no third-party script: the launch parameters come from
 * the URL fragment as Telegram's clients pass them (#tgWebAppData=...&tgWebAppThemeParams=...), and the
 * page talks to the client through Telegram's documented web events (TelegramWebviewProxy.postEvent,
 * external.notify or postMessage; Telegram.WebView.receiveEvent back), so it works where telegram-web-app.js
 * cannot be loaded. Every API call carries `Authorization: tma <initData>`. */
(() => {
  "use strict";

  // --- launch parameters ---------------------------------------------------------------------------
  const STORE = "chathub.launch";
  function launchParams() {
    const hash = new URLSearchParams(location.hash.slice(1));
    let found = null;
    if (hash.get("tgWebAppData")) {
      found = {
        initData: hash.get("tgWebAppData"),
        theme: hash.get("tgWebAppThemeParams") || "{}",
        platform: hash.get("tgWebAppPlatform") || "",
      };
    } else if (window.Telegram && window.Telegram.WebApp && window.Telegram.WebApp.initData) {
      const app = window.Telegram.WebApp; // the official SDK, if a client injected it
      found = { initData: app.initData, theme: JSON.stringify(app.themeParams || {}), platform: app.platform || "" };
    }
    try {
      if (found) sessionStorage.setItem(STORE, JSON.stringify(found));
      else found = JSON.parse(sessionStorage.getItem(STORE) || "null");
    } catch (e) { /* storage may be off */ }
    return found || { initData: "", theme: "{}", platform: "" };
  }
  const launch = launchParams();
  const initData = launch.initData;
  const user = (() => {
    try { return JSON.parse(new URLSearchParams(initData).get("user") || "{}"); } catch (e) { return {}; }
  })();
  let theme = {};
  try { theme = JSON.parse(launch.theme) || {}; } catch (e) { theme = {}; }

  // --- words --------------------------------------------------------------------------------------
  const ALL_TEXTS = JSON.parse(document.getElementById("texts").textContent);
  const code = String(user.language_code || navigator.language || "ru").toLowerCase();
  const locale = code.startsWith("en") ? "en" : code.startsWith("ru") ? "ru" : "ru";
  const T = ALL_TEXTS[locale] || ALL_TEXTS.ru;
  document.documentElement.lang = locale;
  function t(key, values) {
    let text = T.words[key] || key;
    for (const [name, value] of Object.entries(values || {})) text = text.split(`{${name}}`).join(String(value));
    return text;
  }
  const pluralRules = new Intl.PluralRules(locale);
  function plural(key, n) {
    const forms = T.plurals[key] || {};
    return (forms[pluralRules.select(n)] || forms.other || "{n}").split("{n}").join(String(n));
  }
  function errorText(error) {
    if (!error) return t("busy");
    if (error.code === "too_many_requests") return t("too_fast");
    if (error.code === "unauthorized") return t("outside_telegram");
    if (error.code === "unavailable") return t("busy");
    if (error.code === "bad_request" && error.fields && error.fields.length) {
      return t("check_fields", { fields: error.fields.map(fieldLabel).join(", ") });
    }
    return T.errors[error.code] || T.errors.internal_error || t("busy");
  }
  const FIELD_LABELS = { name: "name", gender: "gender", birthday: "birthday", city: "city_label", bio: "bio" };
  function fieldLabel(field) { return FIELD_LABELS[field] ? t(FIELD_LABELS[field]) : field; }

  // --- theme --------------------------------------------------------------------------------------
  function applyTheme(params) {
    const root = document.documentElement;
    for (const [key, value] of Object.entries(params || {})) {
      if (/^#[0-9a-f]{3,8}$/i.test(String(value))) root.style.setProperty(`--tg-theme-${key.replace(/_/g, "-")}`, value);
    }
    if (Object.keys(params || {}).length) root.classList.add("tg");
  }
  applyTheme(theme);

  // --- the Telegram client ------------------------------------------------------------------------
  const proxy = window.TelegramWebviewProxy;
  const inTelegram = Boolean(initData) && Boolean(
    (proxy && proxy.postEvent) || (window.external && "notify" in window.external) || window.parent !== window,
  );
  function post(eventType, eventData) {
    try {
      if (proxy && proxy.postEvent) proxy.postEvent(eventType, JSON.stringify(eventData || {}));
      else if (window.external && "notify" in window.external) window.external.notify(JSON.stringify({ eventType, eventData }));
      else if (window.parent !== window) window.parent.postMessage(JSON.stringify({ eventType, eventData }), "https://web.telegram.org");
    } catch (e) { /* not in Telegram after all */ }
  }
  const listeners = {};
  function receive(name, data) { (listeners[name] || []).forEach((fn) => fn(data)); }
  window.Telegram = window.Telegram || {};
  window.Telegram.WebView = window.Telegram.WebView || {};
  const previous = window.Telegram.WebView.receiveEvent;
  window.Telegram.WebView.receiveEvent = (name, data) => { receive(name, data); if (previous) previous(name, data); };
  window.addEventListener("message", (event) => {
    try { const m = JSON.parse(event.data); if (m && m.eventType) receive(m.eventType, m.eventData); } catch (e) { /* not ours */ }
  });
  function on(name, fn) { (listeners[name] = listeners[name] || []).push(fn); }
  on("theme_changed", (data) => data && applyTheme(data.theme_params));

  function haptic(kind) {
    if (!inTelegram) return;
    if (kind === "success" || kind === "error" || kind === "warning") {
      post("web_app_trigger_haptic_feedback", { type: "notification", notification_type: kind });
    } else if (kind === "selection") {
      post("web_app_trigger_haptic_feedback", { type: "selection_change" });
    } else {
      post("web_app_trigger_haptic_feedback", { type: "impact", impact_style: "light" });
    }
  }
  function openLink(url) {
    if (inTelegram) post("web_app_open_link", { url });
    else window.open(url, "_blank", "noopener,noreferrer");
  }
  function openTelegram(username) {
    if (inTelegram) post("web_app_open_tg_link", { path_full: `/${username}` });
    else window.open(`https://t.me/${encodeURIComponent(username)}`, "_blank", "noopener,noreferrer");
  }

  // The main and back buttons: Telegram's own inside Telegram, a bar at the bottom of the page elsewhere.
  const bar = document.getElementById("bar");
  const primary = document.getElementById("primary");
  const backButton = document.getElementById("back");
  let mainAction = null;
  let backAction = null;
  function setMain(text, action, destructive) {
    mainAction = action;
    if (inTelegram) {
      post("web_app_setup_main_button", {
        is_visible: Boolean(action), is_active: Boolean(action), is_progress_visible: false, text: text || "",
        color: destructive ? theme.destructive_text_color || "#e53935" : theme.button_color || "#3390ec",
        text_color: theme.button_text_color || "#ffffff",
      });
    }
    primary.textContent = text || "";
    primary.className = destructive ? "danger" : "primary";
    primary.hidden = inTelegram || !action;
    refreshBar();
  }
  function setBack(action) {
    backAction = action;
    if (inTelegram) post("web_app_setup_back_button", { is_visible: Boolean(action) });
    backButton.hidden = inTelegram || !action;
    refreshBar();
  }
  function refreshBar() { bar.hidden = primary.hidden && backButton.hidden; }
  primary.addEventListener("click", () => mainAction && mainAction());
  backButton.addEventListener("click", () => backAction && backAction());
  on("main_button_pressed", () => mainAction && mainAction());
  on("back_button_pressed", () => backAction && backAction());

  // --- the API ------------------------------------------------------------------------------------
  let clockOffset = 0; // server time minus this device's time, in ms
  async function api(method, path, body) {
    const headers = { Authorization: `tma ${initData}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(`/app/api/${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      return { ok: false, status: 0, error: { code: "unavailable" } };
    }
    let payload = null;
    try { payload = await response.json(); } catch (e) { payload = null; }
    if (!payload) return { ok: false, status: response.status, error: { code: "unavailable" } };
    return { ...payload, status: response.status };
  }
  const photoUrls = new Map();
  async function photo(url) {
    if (!photoUrls.has(url)) {
      photoUrls.set(url, fetch(url, { headers: { Authorization: `tma ${initData}` } })
        .then((r) => (r.ok ? r.blob() : null)).then((b) => (b ? URL.createObjectURL(b) : null)).catch(() => null));
    }
    return photoUrls.get(url);
  }

  // --- building the page --------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "class") el.className = value;
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }
  const view = document.getElementById("view");
  const toastBox = document.getElementById("toast");
  let toastTimer = 0;
  function toast(text, kind) {
    toastBox.textContent = text;
    toastBox.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastBox.hidden = true; }, 3500);
    if (kind) haptic(kind);
  }
  function show(...nodes) { view.replaceChildren(...nodes); }

  function formatWhen(iso, timezone) {
    const options = { weekday: "short", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    try {
      return new Intl.DateTimeFormat(locale, { ...options, timeZone: timezone }).format(new Date(iso));
    } catch (e) {
      return new Intl.DateTimeFormat(locale, options).format(new Date(iso));
    }
  }
  function formatSpan(ms) {
    const total = Math.max(0, Math.ceil(ms / 1000));
    const hours = Math.floor(total / 3600);
    const mm = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
    const ss = String(total % 60).padStart(2, "0");
    return hours ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
  }
  function now() { return Date.now() + clockOffset; }

  function avatar(card) {
    const img = h("div", { class: "photo", "aria-hidden": "true" }, (card.name || "?").slice(0, 1).toUpperCase());
    if (card.photo_url) {
      photo(card.photo_url).then((src) => {
        if (src) img.replaceWith(h("img", { class: "photo", src, alt: card.name }));
      });
    }
    return img;
  }
  function partnerCard(card) {
    const age = card.age ? `, ${card.age}` : "";
    return h("div", { class: "partner" }, avatar(card), h("div", {},
      h("div", { class: "name" }, `${card.name}${age}`),
      card.city ? h("div", { class: "muted" }, t("city", { city: card.city })) : null,
      card.bio ? h("div", { class: "muted" }, t("about", { bio: card.bio })) : null,
    ));
  }

  // --- state --------------------------------------------------------------------------------------
  // undefined: loading; null (profile): there is none; {missingProfile} or {error}: what went wrong.
  const state = {
    view: null, sub: null, events: undefined, tonight: undefined, matches: undefined, profile: undefined,
    reporting: null,  // the date whose report reasons are open ("event:partner"): a refresh keeps them open
  };
  const tabs = [...document.querySelectorAll(".tabs button")];
  tabs.forEach((tab) => {
    tab.textContent = t(`tab_${tab.dataset.view}`);
    tab.addEventListener("click", () => { haptic("selection"); go(tab.dataset.view); });
  });

  function go(name, sub) {
    state.view = name;
    state.sub = sub || null;
    tabs.forEach((tab) => tab.setAttribute("aria-selected", String(tab.dataset.view === name)));
    setMain(null, null);
    setBack(null);
    render();
    return load(name);
  }
  function render() {
    ({ tonight: renderTonight, events: renderEvents, matches: renderMatches, profile: renderProfile })[state.view]();
  }
  async function load(name) {
    const path = { tonight: "tonight", events: "events", matches: "matches", profile: "me" }[name];
    const sent = Date.now();
    const reply = await api("GET", path);
    if (reply.ok && name === "tonight") {
      clockOffset = Date.parse(reply.data.now) - (sent + Date.now()) / 2;
    }
    if (reply.ok) {
      state[name] = { profile: reply.data.profile, events: reply.data.events, matches: reply.data.matches }[name] || reply.data;
    } else if (reply.error && reply.error.code === "profile_required") {
      state[name] = name === "profile" ? null : { missingProfile: true };
    } else {
      state[name] = { error: reply.error };
    }
    if (state.view === name) render();
    return reply;
  }
  function placeholder(value) {
    if (value === undefined) return h("p", { class: "hint" }, t("loading"));
    if (value && value.missingProfile) return h("div", { class: "card" }, t("no_profile"));
    if (value && value.error) {
      return h("div", { class: "card" }, h("p", {}, errorText(value.error)),
        h("button", { class: "secondary", type: "button", onclick: () => go(state.view) }, t("retry")));
    }
    return null;
  }

  // --- tonight ------------------------------------------------------------------------------------
  let refreshAt = 0;
  function renderTonight() {
    const data = state.tonight;
    const waiting = placeholder(data);
    if (waiting) return show(h("h1", {}, t("tab_tonight")), waiting);
    const nodes = [h("h1", {}, t("tonight_title"))];
    const date = data.date;
    const outcome = absenceOutcome(date);
    if (outcome) nodes.push(h("div", { class: "card notice", id: "absence", role: "status" }, outcome));
    if (!date) {
      nodes.push(h("div", { class: "card" }, t("no_date")));
      setMain(null, null);
    } else {
      const starts = Date.parse(date.starts_at);
      const ends = Date.parse(date.ends_at);
      const card = h("div", { class: "card", id: "date" },
        h("div", { class: "badge" }, t("round_of", { round: date.round, rounds: date.rounds })),
        partnerCard(date.partner),
        h("div", { class: "timer" },
          h("div", { class: "countdown-label", "data-label": "" }),
          h("div", { class: "countdown", "data-countdown": "", "data-starts": starts, "data-ends": ends })),
      );
      if (date.url) {
        setMain(t("join_call"), () => { haptic("impact"); openLink(date.url); });
      } else {
        setMain(null, null);
        card.append(h("p", { class: "hint" }, t("link_soon")));
      }
      // Shown by tick() only while the round runs: datemaker refuses it before and after.
      card.append(h("div", { class: "row", "data-absent-row": "", hidden: true },
        h("button", { class: "secondary", type: "button", "data-action": "absent", onclick: (e) => absent(date, e.currentTarget) }, t("absent"))));
      nodes.push(card);
      if (date.next) {
        nodes.push(h("div", { class: "card", id: "next" }, h("span", { "data-next": "", "data-starts": Date.parse(date.next.starts_at) })));
        state.nextPartner = date.next;
      } else {
        nodes.push(h("p", { class: "hint" }, t("last_date")));
      }
    }
    if (data.to_rate && data.to_rate.length) {
      nodes.push(h("h2", {}, t("rate_title")));
      for (const item of data.to_rate) nodes.push(rateCard(item));
    }
    show(...nodes);
    tick();
  }
  // "My partner isn't here": its outcome stays on the page until the end of that round.
  async function absent(date, button) {
    button.disabled = true;
    haptic("impact");
    const reply = await api("POST", `events/${date.event_id}/absence`, { round: date.round });
    button.disabled = false;
    if (!reply.ok) {
      const code = reply.error && reply.error.code;
      const text = code === "round_not_running" ? t("absent_not_running")
        : code === "not_your_partner" ? t("absent_no_date") : errorText(reply.error);
      toast(text, "error");
      if (code === "round_not_running" || code === "not_your_partner") load("tonight");
      return;
    }
    state.absence = {
      ...reply.data, event_id: date.event_id, round: date.round, until: Date.parse(date.ends_at),
      oldUrl: date.url || null, polls: 0,
    };
    haptic(reply.data.status === "no_one_free" ? "warning" : "success");
    await load("tonight");
  }
  function absenceOutcome(date) {
    const a = state.absence;
    if (!a || now() >= a.until) { state.absence = null; return null; }
    if (a.status === "partner_joined") return t("absent_joined");
    if (a.status === "no_one_free") {
      const next = a.next_round && a.next_starts_at
        ? t("absent_next", { round: a.next_round, time: String(a.next_starts_at).slice(11, 16) }) : t("absent_last");
      return `${t("absent_no_one_free")} ${next}`;
    }
    const rescue = date && date.event_id === a.event_id && date.round === a.round ? date : null;
    const name = (rescue && rescue.partner.name) || (a.partner && a.partner.name) || "";
    let call;
    if (rescue && rescue.url) call = rescue.url === a.oldUrl ? t("absent_same_call", { name }) : t("absent_new_call");
    else {
      call = t("absent_link_soon");
      if (a.polls < 10) { a.polls += 1; setTimeout(() => { if (state.view === "tonight") load("tonight"); }, 1500); }
    }
    return `${t("absent_rescue", { name })} ${call}`;
  }
  // The reasons of a report, as the page's words name them (contracts.commands.ReportReason, in its order).
  const REPORT_REASONS = Object.keys(T.words).filter((key) => key.startsWith("reason_")).map((key) => key.slice(7));
  function rateCard(item) {
    const card = h("div", { class: "card rate" },
      h("p", {}, t("rate_question", { name: item.partner.name, round: item.round })));
    const row = h("div", {});
    const key = `${item.event_id}:${item.partner.user_id}`;
    async function rate(verdict, reason, buttons) {
      buttons.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      state.reporting = null;
      const body = { partner_id: item.partner.user_id, verdict };
      if (reason) body.reason = reason;
      const reply = await api("POST", `events/${item.event_id}/ratings`, body);
      if (reply.ok) { toast(t("rated"), "success"); card.replaceChildren(h("p", { class: "hint" }, t("rated"))); }
      else { toast(errorText(reply.error), "error"); buttons.querySelectorAll("button").forEach((b) => { b.disabled = false; }); }
    }
    function verdicts() {
      const buttons = ["like", "dislike", "report"].map((verdict) => h("button", {
        class: verdict === "report" ? "danger" : "secondary", type: "button", "data-verdict": verdict,
        onclick: () => {
          if (verdict !== "report") return rate(verdict, null, row);
          state.reporting = key;
          row.replaceChildren(reasons());
        },
      }, t(verdict)));
      return h("div", { class: "row" }, ...buttons);
    }
    function reasons() {  // a report says what happened: the organizers read it
      const list = h("div", { class: "reasons" }, h("p", { class: "hint" }, t("report_why")));
      for (const reason of REPORT_REASONS) {
        list.append(h("button", {
          class: "secondary", type: "button", "data-reason": reason, onclick: () => rate("report", reason, list),
        }, t(`reason_${reason}`)));
      }
      list.append(h("button", {
        class: "link", type: "button", onclick: () => { state.reporting = null; row.replaceChildren(verdicts()); },
      }, t("back")));
      return list;
    }
    row.replaceChildren(state.reporting === key ? reasons() : verdicts());
    card.append(row);
    return card;
  }
  function tick() {
    const at = now();
    const countdown = view.querySelector("[data-countdown]");
    if (countdown) {
      const starts = Number(countdown.dataset.starts);
      const ends = Number(countdown.dataset.ends);
      const label = view.querySelector("[data-label]");
      if (at < starts) { label.textContent = t("starts_in"); countdown.textContent = formatSpan(starts - at); }
      else if (at < ends) { label.textContent = t("ends_in"); countdown.textContent = formatSpan(ends - at); }
      else { label.textContent = t("round_over"); countdown.textContent = "00:00"; }
      const absentRow = view.querySelector("[data-absent-row]");
      if (absentRow) absentRow.hidden = !(at >= starts && at < ends);
      const boundary = at < starts ? starts : ends;
      if (boundary - at < 1000 && Date.now() > refreshAt) { refreshAt = Date.now() + 2000; setTimeout(() => load("tonight"), 1200); }
    }
    const next = view.querySelector("[data-next]");
    if (next && state.nextPartner) {
      next.textContent = t("next_date", {
        name: state.nextPartner.partner.name, round: state.nextPartner.round,
        time: formatSpan(Number(next.dataset.starts) - at),
      });
    }
  }
  setInterval(() => { if (state.view === "tonight") tick(); }, 250);
  setInterval(() => { if (state.view === "tonight" && !document.hidden) load("tonight"); }, 15000);

  // --- events -------------------------------------------------------------------------------------
  const ACTIVE = ["registered", "confirmed", "waitlisted"];
  function renderEvents() {
    const events = state.events;
    const waiting = placeholder(events);
    if (waiting) return show(h("h1", {}, t("events_title")), waiting);
    if (!events.length) return show(h("h1", {}, t("events_title")), h("div", { class: "card" }, t("no_events")));
    show(h("h1", {}, t("events_title")), ...events.map(eventCard));
  }
  function eventCard(event) {
    const spots = event.spots_left > 0 ? plural("spots", event.spots_left) : t("waitlist_only");
    const card = h("div", { class: "card event", "data-event": event.event_id },
      h("div", { class: "when" }, formatWhen(event.starts_at, event.timezone)),
      h("div", { class: "hint" }, `${event.timezone} · ${spots}`),
      event.my_status && ACTIVE.includes(event.my_status) ? h("div", { class: "badge" }, t(event.my_status)) : null,
    );
    const row = h("div", { class: "row" });
    const act = (fn) => async () => {
      row.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      await fn();
      row.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    };
    const active = ACTIVE.includes(event.my_status);
    if (event.can_confirm) {
      card.append(h("p", {}, t("confirm_question")));
      row.append(
        h("button", { class: "primary", type: "button", "data-action": "confirm", onclick: act(() => confirm(event, true)) }, t("confirm_yes")),
        h("button", { class: "danger", type: "button", "data-action": "decline", onclick: act(() => confirm(event, false)) }, t("confirm_no")),
      );
    } else if (active) {
      row.append(h("button", { class: "danger", type: "button", "data-action": "cancel", onclick: () => {
        haptic("impact");
        row.replaceChildren(
          h("button", { class: "danger", type: "button", "data-action": "cancel-yes", onclick: act(() => cancel(event)) }, t("cancel_confirm")),
          h("button", { class: "secondary", type: "button", onclick: () => render() }, t("keep")),
        );
      } }, t("cancel_registration")));
    } else if (["NOT_STARTED", "REG_CONFIRM"].includes(event.state)) {
      const label = event.spots_left > 0 ? t("register") : t("join_waitlist");
      row.append(h("button", { class: "primary", type: "button", "data-action": "register", onclick: act(() => register(event)) }, label));
    }
    if (row.childElementCount) card.append(row);
    return card;
  }
  function replaceEvent(updated) {
    if (!Array.isArray(state.events) || !updated) return;
    state.events = state.events.map((e) => (e.event_id === updated.event_id ? updated : e));
  }
  async function register(event) {
    const reply = await api("POST", `events/${event.event_id}/registration`);
    if (!reply.ok) return toast(errorText(reply.error), "error");
    replaceEvent(reply.data.event);
    toast(reply.data.status === "waitlisted" ? t("waitlisted_now") : t("registered_now"), "success");
    render();
  }
  async function cancel(event) {
    const reply = await api("DELETE", `events/${event.event_id}/registration`);
    if (!reply.ok) return toast(errorText(reply.error), "error");
    toast(t("cancelled_now"), "success");
    await load("events");
  }
  async function confirm(event, attending) {
    const reply = await api("POST", `events/${event.event_id}/confirmation`, { attending });
    if (!reply.ok) return toast(errorText(reply.error), "error");
    toast(attending ? t("confirmed_now") : t("declined_now"), "success");
    await load("events");
  }

  // --- matches ------------------------------------------------------------------------------------
  function renderMatches() {
    const matches = state.matches;
    const waiting = placeholder(matches);
    if (waiting) return show(h("h1", {}, t("matches_title")), waiting);
    if (!matches.length) return show(h("h1", {}, t("matches_title")), h("div", { class: "card" }, t("no_matches")));
    show(h("h1", {}, t("matches_title")), ...matches.map((match) => h("div", { class: "card match" },
      h("div", { class: "name" }, match.name),
      match.username ? h("div", { class: "muted" }, `@${match.username}`) : null,
      match.username ? h("div", { class: "row" }, h("button", { class: "secondary", type: "button",
        onclick: () => openTelegram(match.username) }, t("write", { name: match.name }))) : null,
    )));
  }

  // --- profile ------------------------------------------------------------------------------------
  function renderProfile() {
    const profile = state.profile;
    if (profile === undefined) return show(h("h1", {}, t("profile_title")), h("p", { class: "hint" }, t("loading")));
    if (profile === null) return show(h("h1", {}, t("profile_title")), h("div", { class: "card" }, t("no_profile")));
    if (profile.error) return show(h("h1", {}, t("profile_title")), placeholder(profile));
    if (state.sub === "edit") return renderEdit(profile);
    if (state.sub === "delete") return renderDelete();
    const birthday = new Intl.DateTimeFormat(locale, { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" })
      .format(new Date(`${profile.birthday}T00:00:00Z`));
    show(h("h1", {}, t("profile_title")),
      h("div", { class: "card" }, partnerCard({ ...profile, photo_url: profile.photo_url }),
        h("p", { class: "muted" }, `${t("gender")}: ${profile.gender === "M" ? t("man") : t("woman")} · ${t("birthday")}: ${birthday}`)),
      h("div", { class: "row" }, h("button", { class: "danger", type: "button", "data-action": "delete", onclick: () => go("profile", "delete") }, t("delete_data"))));
    setMain(t("edit_profile"), () => go("profile", "edit"));
  }
  function renderEdit(profile) {
    const field = (name, label, input) => [h("label", { for: name }, label), input];
    const form = h("form", { class: "card", id: "profile-form", onsubmit: (e) => { e.preventDefault(); save(); } },
      ...field("name", t("name"), h("input", { id: "name", name: "name", value: profile.name, maxlength: 64, required: true, autocomplete: "given-name" })),
      h("label", {}, t("gender")),
      h("div", { class: "choice" },
        h("label", {}, h("input", { type: "radio", name: "gender", value: "F", checked: profile.gender === "F" }), t("woman")),
        h("label", {}, h("input", { type: "radio", name: "gender", value: "M", checked: profile.gender === "M" }), t("man"))),
      ...field("birthday", t("birthday"), h("input", { id: "birthday", name: "birthday", type: "date", value: profile.birthday, required: true })),
      ...field("city", t("city_label"), h("input", { id: "city", name: "city", value: profile.city, maxlength: 64, required: true })),
      ...field("bio", t("bio"), h("textarea", { id: "bio", name: "bio", maxlength: 1000 }, profile.bio || "")),
    );
    show(h("h1", {}, t("profile_title")), form);
    setBack(() => go("profile"));
    setMain(t("save"), save);
    async function save() {
      const data = new FormData(form);
      const body = {
        name: String(data.get("name") || ""), gender: String(data.get("gender") || ""),
        birthday: String(data.get("birthday") || ""), city: String(data.get("city") || ""),
        bio: String(data.get("bio") || "").trim() || null,
      };
      const reply = await api("PUT", "me", body);
      form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
      if (!reply.ok) {
        for (const name of (reply.error && reply.error.fields) || []) {
          const input = form.querySelector(`[name="${name}"]`);
          if (input) input.classList.add("invalid");
        }
        return toast(errorText(reply.error), "error");
      }
      state.profile = reply.data.profile;
      toast(t("saved"), "success");
      go("profile");
    }
  }
  function renderDelete() {
    show(h("h1", {}, t("delete_data")), h("div", { class: "card" }, t("delete_question")),
      h("div", { class: "row" }, h("button", { class: "secondary", type: "button", onclick: () => go("profile") }, t("keep"))));
    setBack(() => go("profile"));
    setMain(t("delete_yes"), async () => {
      const reply = await api("DELETE", "me");
      if (!reply.ok) return toast(errorText(reply.error), "error");
      toast(t("deleted"), "warning");
      state.profile = null;
      go("profile");
    }, true);
  }

  // --- start --------------------------------------------------------------------------------------
  post("web_app_ready", {});
  post("web_app_expand", {});
  if (inTelegram) post("web_app_set_header_color", { color_key: "bg_color" });
  if (!initData) {
    show(h("div", { class: "card" }, t("outside_telegram")));
    document.querySelector(".tabs").hidden = true;
    return;
  }
  const wanted = new URLSearchParams(location.search).get("view");
  if (["tonight", "events", "matches", "profile"].includes(wanted)) {
    go(wanted);
  } else {
    // The night of an event opens on the date; any other day on the events.
    go("tonight").then((reply) => {
      if (state.view === "tonight" && !(reply.ok && (reply.data.date || (reply.data.to_rate || []).length))) go("events");
    });
  }
})();
