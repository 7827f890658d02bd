/*
 * The staff scanner at the till: sign in, scan a pass, award points, redeem rewards.
 *
 * Plain JavaScript on top of the server-rendered page, talking to the same /api/v1
 * endpoints as any POS. Three ways to read a card share one lookup path: a USB
 * keyboard-wedge scanner (it "types" the code very fast and presses Enter), the camera
 * through the BarcodeDetector API where the browser has it, and typing by hand.
 *
 * Money is never credited twice: every confirm action gets one Idempotency-Key, reused
 * when the cashier retries after a network failure (the first request may have landed),
 * and dropped once the server has given a definitive answer.
 */
(() => {
  "use strict";

  const TOKEN_KEY = "wallet.scanner.token";
  const EMAIL_KEY = "wallet.scanner.email";
  // The merchant's slug: staff emails are unique per merchant, so sign-in names it. Not a
  // secret, and the same for every cashier of the till: kept across sessions.
  const MERCHANT_KEY = "wallet.scanner.merchant";
  const REQUEST_TIMEOUT_MS = 15000;
  // A wedge scanner sends a key every few milliseconds; people need 80 ms or more.
  const WEDGE_GAP_MS = 35;
  const WEDGE_MIN_LENGTH = 6;
  const CAMERA_FORMATS = ["qr_code", "pdf417", "aztec", "code_128"];
  const CAMERA_INTERVAL_MS = 150;
  // Answers after which the request may or may not have been applied: keep the key, so the
  // retry either applies it once or replays the first answer. Anything else is definitive
  // (our errors roll the whole transaction back) and the next confirm gets a fresh key.
  const RETRYABLE_STATUSES = new Set([0, 408, 425, 429, 500, 502, 503, 504]);
  const RETRYABLE_CODES = new Set(["idempotency_key_reused", "unexpected_answer"]);
  // A retry comes within minutes; past that the same card and amount is a new purchase.
  const PENDING_TTL_MS = 10 * 60 * 1000;

  // What the cashier reads for the errors they meet every day; others show the server's detail.
  const FRIENDLY_ERRORS = {
    invalid_barcode: "This code is not one of our cards",
    member_not_found: "This card is not registered with this shop",
    insufficient_points: "Not enough points for this reward",
    insufficient_stamps: "Not enough stamps for this reward",
    insufficient_cashback: "Not enough cashback for this reward",
    reward_not_found: "This reward no longer exists",
    reward_not_valid_now: "This reward is not available right now",
    reward_not_allowed_for_tier: "This reward is not available at the customer's tier",
    reward_out_of_stock: "This reward is out of stock",
    below_minimum_basket: "The basket is below the minimum for this",
    basket_amount_required: "Enter the basket amount first: this reward needs a minimum basket",
    currency_mismatch: "The amount is not in this program's currency",
    invalid_amount: "Check the amount and try again",
    permission_denied: "Your account is not allowed to do this",
    too_many_requests: "Too many attempts. Wait a moment and try again",
  };

  const REASON_TEXT = {
    insufficient_points: (reward, member) =>
      `Needs ${formatNumber(Math.max(reward.cost_points - member.points_balance, 0))} more points`,
    insufficient_stamps: () => "Needs more stamps",
    insufficient_cashback: () => "Not enough cashback",
    reward_not_valid_now: () => "Not available right now",
    reward_not_allowed_for_tier: () => "Not for this tier",
    reward_out_of_stock: () => "Out of stock",
    below_minimum_basket: () => "Needs a minimum basket",
  };

  const KIND_TEXT = {
    free_product: "Free product",
    fixed_discount: "Discount",
    percent_discount: "Discount",
    free_shipping: "Free shipping",
    donation: "Donation",
  };

  function reasonText(reason, reward, member) {
    const describe = REASON_TEXT[reason];
    return describe ? describe(reward, member) : reason.replace(/_/g, " ");
  }

  const $ = (id) => {
    const element = document.getElementById(id);
    if (!element) throw new Error(`scanner page is missing #${id}`);
    return element;
  };

  const ui = {
    apiBase: document.body.dataset.apiBase || "/api/v1",
    session: $("session"),
    sessionUser: $("session-user"),
    signOut: $("sign-out"),
    signinView: $("signin-view"),
    signinForm: $("signin-form"),
    signinMerchant: $("signin-merchant"),
    signinEmail: $("signin-email"),
    signinPassword: $("signin-password"),
    signinError: $("signin-error"),
    signinSubmit: $("signin-submit"),
    scannerView: $("scanner-view"),
    scanForm: $("scan-form"),
    scanInput: $("scan-input"),
    scanSubmit: $("scan-submit"),
    cameraStart: $("camera-start"),
    cameraPanel: $("camera-panel"),
    cameraVideo: $("camera-video"),
    cameraStatus: $("camera-status"),
    cameraStop: $("camera-stop"),
    scanError: $("scan-error"),
    scanErrorTitle: $("scan-error-title"),
    scanErrorDetail: $("scan-error-detail"),
    idlePanel: $("idle-panel"),
    memberPanel: $("member-panel"),
    memberName: $("member-name"),
    memberTier: $("member-tier"),
    memberStatus: $("member-status"),
    memberPoints: $("member-points"),
    memberCashback: $("member-cashback"),
    memberStamps: $("member-stamps"),
    memberStampDots: $("member-stamp-dots"),
    memberProgress: $("member-progress"),
    memberExpiring: $("member-expiring"),
    result: $("result"),
    resultHeadline: $("result-headline"),
    resultLines: $("result-lines"),
    earnForm: $("earn-form"),
    amountInput: $("amount-input"),
    amountCurrency: $("amount-currency"),
    amountSymbol: $("amount-symbol"),
    awardButton: $("award-button"),
    rewardsList: $("rewards-list"),
    rewardsEmpty: $("rewards-empty"),
    nextCustomer: $("next-customer"),
    announcer: $("announcer"),
    dialog: $("confirm-dialog"),
    dialogTitle: $("confirm-title"),
    dialogText: $("confirm-text"),
    dialogOk: $("confirm-ok"),
  };

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    barcode: null,
    member: null,
    rewards: [],
    // {fingerprint, key, since} of a confirm whose outcome is unknown (see header comment).
    pendingEarn: null,
    pendingRedeem: null,
    busy: false,
    camera: null,
  };

  // Phones and tablets: focusing a field opens the on-screen keyboard over the result the
  // cashier needs to read, so focus is not forced there; keys from a Bluetooth scanner still
  // reach the scan field through the keydown redirect below.
  const touchOnly = window.matchMedia("(hover: none) and (pointer: coarse)");

  // ---------------------------------------------------------------- formatting

  const numberFormat = new Intl.NumberFormat(undefined);

  function formatNumber(value) {
    return numberFormat.format(value);
  }

  function currencyFormat(currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency });
    } catch {
      return null;
    }
  }

  function formatMoney(value, currency) {
    const format = currencyFormat(currency);
    const amount = Number(value);
    if (!format || !Number.isFinite(amount)) return `${value} ${currency}`;
    return format.format(amount);
  }

  function currencyDigits(currency) {
    const format = currencyFormat(currency);
    return format ? format.resolvedOptions().maximumFractionDigits : 2;
  }

  function currencySymbol(currency) {
    const format = currencyFormat(currency);
    if (!format) return currency;
    const part = format.formatToParts(0).find((p) => p.type === "currency");
    return part ? part.value : currency;
  }

  function plural(count, one, many) {
    return `${formatNumber(count)} ${count === 1 ? one : many}`;
  }

  /** "12,5" or "12.5" -> "12.50" (as a string: money never goes through a float). */
  function parseAmount(text, currency) {
    const digits = currencyDigits(currency);
    const cleaned = text.trim().replace(/\s/g, "").replace(",", ".");
    const pattern = digits > 0 ? new RegExp(`^\\d{1,9}(\\.\\d{0,${digits}})?$`) : /^\d{1,9}$/;
    if (!pattern.test(cleaned)) return null;
    const [whole, fraction = ""] = cleaned.split(".");
    const integer = whole.replace(/^0+(?=\d)/, "");
    const value = digits > 0 ? `${integer}.${fraction.padEnd(digits, "0")}` : integer;
    return /[1-9]/.test(value) ? value : null;
  }

  function newIdempotencyKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // randomUUID needs a secure context; a till on a plain-http LAN address still gets a v4.
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const parts = [[0, 8], [8, 12], [12, 16], [16, 20], [20, 32]];
    return parts.map(([start, end]) => hex.slice(start, end)).join("-");
  }

  /** The Idempotency-Key for this confirm: the unresolved one if it is a retry, else new. */
  function pendingKey(slot, request) {
    const fingerprint = JSON.stringify(request);
    const pending = state[slot];
    const now = Date.now();
    if (pending && pending.fingerprint === fingerprint && now - pending.since < PENDING_TTL_MS) {
      return pending.key;
    }
    state[slot] = { fingerprint, key: newIdempotencyKey(), since: now };
    return state[slot].key;
  }

  // ---------------------------------------------------------------- the API

  class ApiError extends Error {
    constructor(status, code, detail, extra) {
      super(detail);
      this.status = status;
      this.code = code;
      this.detail = detail;
      this.extra = extra || {};
    }

    get retryable() {
      return RETRYABLE_STATUSES.has(this.status) || RETRYABLE_CODES.has(this.code);
    }
  }

  async function readBody(response) {
    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("json")) return null;
    try {
      return await response.json();
    } catch {
      return null;
    }
  }

  async function api(path, { method = "GET", json, form, idempotencyKey } = {}) {
    const headers = { Accept: "application/json, application/problem+json" };
    let body;
    if (form) {
      body = new URLSearchParams(form);
      headers["Content-Type"] = "application/x-www-form-urlencoded";
    } else if (json !== undefined) {
      body = JSON.stringify(json);
      headers["Content-Type"] = "application/json";
    }
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;

    const controller = new AbortController();
    const timer = window.setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(ui.apiBase + path, {
        method,
        headers,
        body,
        signal: controller.signal,
        cache: "no-store",
        credentials: "same-origin",
      });
    } catch {
      throw new ApiError(0, "network_error", "No answer from the server. Check the connection.");
    } finally {
      window.clearTimeout(timer);
    }
    const data = await readBody(response);
    if (response.ok && data !== null) return data;
    if (response.ok) {
      // A 2xx that is not our JSON (a captive portal, say): the request may not have reached
      // us, so it counts as retryable under the same key.
      throw new ApiError(
        response.status,
        "unexpected_answer",
        "The server's answer was not understood. Try again.",
      );
    }
    if (data && typeof data.detail === "string") {
      throw new ApiError(response.status, data.code || "error", data.detail, data);
    }
    // Not one of our problem documents (a proxy's HTML page, say): never show it raw.
    throw new ApiError(
      response.status,
      "http_error",
      `The server could not answer (HTTP ${response.status}). Try again in a moment.`,
    );
  }

  // ---------------------------------------------------------------- feedback

  let announceTimer = 0;

  function announce(text) {
    // Clearing first makes screen readers repeat an identical message (same scan twice).
    window.clearTimeout(announceTimer);
    ui.announcer.textContent = "";
    if (!text) return;
    announceTimer = window.setTimeout(() => {
      ui.announcer.textContent = text;
    }, 50);
  }

  function errorText(error) {
    const friendly = FRIENDLY_ERRORS[error.code];
    let detail = error.detail;
    const errors = error.extra && error.extra.errors;
    if (error.code === "validation_error" && Array.isArray(errors) && errors.length) {
      detail = errors.map((e) => e.msg).filter(Boolean).join(" ");
    }
    if (friendly) return { title: friendly, detail: detail && detail !== friendly ? detail : "" };
    return { title: detail || "Something went wrong. Try again.", detail: "" };
  }

  function showError(title, detail = "") {
    ui.scanErrorTitle.textContent = title;
    ui.scanErrorDetail.textContent = detail;
    ui.scanErrorDetail.hidden = !detail;
    ui.scanError.hidden = false;
  }

  function clearError() {
    ui.scanError.hidden = true;
    ui.scanErrorTitle.textContent = "";
    ui.scanErrorDetail.textContent = "";
  }

  /** Show an API failure; returns false when it ended the session (handled already). */
  function reportError(error, retryHint = "") {
    if (error.status === 401) {
      signOut("Your session has ended. Please sign in again.");
      return false;
    }
    const text = errorText(error);
    const detail = [text.detail, error.retryable ? retryHint : ""].filter(Boolean).join(" ");
    showError(text.title, detail);
    return true;
  }

  function refocusScan() {
    if (ui.scannerView.hidden || ui.dialog.open || state.camera) return;
    if (touchOnly.matches) {
      // Close the on-screen keyboard and bring the customer and the award button into view.
      const active = document.activeElement;
      if (active instanceof HTMLInputElement && ui.scannerView.contains(active)) active.blur();
      if (!ui.memberPanel.hidden) ui.memberPanel.scrollIntoView({ block: "start" });
      return;
    }
    ui.scanInput.focus({ preventScroll: true });
  }

  function setBusy(busy) {
    state.busy = busy;
    document.body.classList.toggle("is-busy", busy);
    for (const button of [ui.scanSubmit, ui.awardButton, ui.cameraStart]) button.disabled = busy;
    for (const button of ui.rewardsList.querySelectorAll("button")) button.disabled = busy;
  }

  // ---------------------------------------------------------------- rendering

  function renderMember(member, rewards) {
    state.member = member;
    state.rewards = Array.isArray(rewards) ? rewards : [];
    ui.memberName.textContent = member.name || "Member";
    ui.memberTier.textContent = member.tier ? member.tier.name : "";
    ui.memberTier.hidden = !member.tier;
    const inactive = member.status && member.status !== "active";
    ui.memberStatus.hidden = !inactive;
    ui.memberStatus.textContent = inactive ? member.status.replace(/_/g, " ") : "";
    ui.memberPoints.textContent = formatNumber(member.points_balance);
    ui.memberCashback.textContent = formatMoney(member.cashback_balance, member.currency);
    renderStamps(member.stamps, member.stamps_per_card);
    ui.memberProgress.textContent = member.progress_text || "";
    ui.memberProgress.hidden = !member.progress_text;
    ui.memberExpiring.hidden = !(member.points_expiring_soon > 0);
    ui.memberExpiring.textContent =
      member.points_expiring_soon > 0
        ? `${plural(member.points_expiring_soon, "point expires", "points expire")} soon`
        : "";
    ui.amountCurrency.textContent = `(${member.currency})`;
    ui.amountSymbol.textContent = currencySymbol(member.currency);
    ui.amountInput.placeholder = (0).toFixed(currencyDigits(member.currency));
    renderRewards();
    ui.idlePanel.hidden = true;
    ui.memberPanel.hidden = false;
  }

  function renderStamps(stamps, perCard) {
    ui.memberStamps.textContent = perCard ? `${stamps} / ${perCard}` : formatNumber(stamps);
    ui.memberStampDots.replaceChildren();
    // Dots only for a card small enough to read at a glance.
    if (!perCard || perCard > 12) return;
    const filled = Math.min(stamps, perCard);
    for (let i = 0; i < perCard; i += 1) {
      const dot = document.createElement("span");
      dot.className = i < filled ? "stamps__dot is-on" : "stamps__dot";
      ui.memberStampDots.append(dot);
    }
  }

  function renderRewards() {
    const member = state.member;
    ui.rewardsList.replaceChildren();
    ui.rewardsEmpty.hidden = state.rewards.length > 0;
    for (const reward of state.rewards) {
      const item = document.createElement("li");
      item.className = reward.usable ? "reward is-usable" : "reward";

      const text = document.createElement("div");
      text.className = "reward__text";
      const name = document.createElement("span");
      name.className = "reward__name";
      name.textContent = reward.name;
      const meta = document.createElement("span");
      meta.className = "reward__meta";
      const cost = reward.cost_points > 0 ? `${formatNumber(reward.cost_points)} pts` : "Free";
      const minimum = reward.minimum_basket
        ? `basket ≥ ${formatMoney(reward.minimum_basket, member.currency)}`
        : "";
      meta.textContent = [cost, KIND_TEXT[reward.kind], minimum].filter(Boolean).join(" · ");
      text.append(name, meta);
      item.append(text);

      if (reward.usable) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button button--secondary reward__redeem";
        button.textContent = "Redeem";
        button.setAttribute("aria-label", `Redeem ${reward.name}`);
        button.disabled = state.busy;
        button.addEventListener("click", () => redeem(reward));
        item.append(button);
      } else {
        const why = document.createElement("span");
        why.className = "reward__why";
        why.textContent =
          (reward.reasons || []).map((reason) => reasonText(reason, reward, member)).join(" · ") ||
          "Not available";
        item.append(why);
      }
      ui.rewardsList.append(item);
    }
  }

  function showResult(headline, lines, tone = "success") {
    ui.resultHeadline.textContent = headline;
    ui.resultLines.replaceChildren(
      ...lines.filter(Boolean).map((line) => {
        const li = document.createElement("li");
        li.textContent = line;
        return li;
      }),
    );
    ui.result.className = `result result--${tone}`;
    ui.result.hidden = false;
  }

  function clearResult() {
    ui.result.hidden = true;
    ui.resultHeadline.textContent = "";
    ui.resultLines.replaceChildren();
  }

  function clearMember() {
    // Pending keys survive on purpose: a cashier who rescans the card after a network error
    // and confirms the same amount again must replay the first request, not add a second.
    state.barcode = null;
    state.member = null;
    state.rewards = [];
    ui.memberPanel.hidden = true;
    ui.idlePanel.hidden = false;
    ui.amountInput.value = "";
    ui.awardButton.textContent = "Award points";
    // The till is shared: the last customer's details must not linger in the page.
    for (const field of [ui.memberName, ui.memberTier, ui.memberStatus, ui.memberPoints,
      ui.memberCashback, ui.memberStamps, ui.memberProgress, ui.memberExpiring]) {
      field.textContent = "";
    }
    ui.memberStampDots.replaceChildren();
    ui.rewardsList.replaceChildren();
    clearResult();
  }

  // ---------------------------------------------------------------- scanning

  async function lookup(rawCode) {
    const code = rawCode.trim();
    ui.scanInput.value = "";
    if (!code || state.busy) {
      refocusScan();
      return;
    }
    clearError();
    setBusy(true);
    // A quick cashier may type the amount while the card is being looked up: keep it, and
    // leave them in that field rather than pulling focus back to the scan field.
    const amountBefore = ui.amountInput.value;
    let typedMeanwhile = "";
    try {
      const data = await api(`/scans/lookup?barcode=${encodeURIComponent(code)}`);
      typedMeanwhile = ui.amountInput.value !== amountBefore ? ui.amountInput.value : "";
      clearMember();
      state.barcode = code;
      renderMember(data.member, data.rewards);
      ui.amountInput.value = typedMeanwhile;
      const m = data.member;
      announce(
        `${m.name}: ${plural(m.points_balance, "point", "points")}` +
          (m.tier ? `, ${m.tier.name}` : "") +
          (m.progress_text ? `. ${m.progress_text}` : ""),
      );
    } catch (error) {
      // Whoever was on screen is not the customer in front of the till any more.
      clearMember();
      if (reportError(error)) announce(ui.scanErrorTitle.textContent);
    } finally {
      setBusy(false);
      if (!(typedMeanwhile && document.activeElement === ui.amountInput)) refocusScan();
    }
  }

  async function award(event) {
    event.preventDefault();
    if (wedgeBurstInto(ui.amountInput)) return;
    if (!state.member || state.busy) return;
    const member = state.member;
    const value = parseAmount(ui.amountInput.value, member.currency);
    if (!value) {
      const example = (12.5).toFixed(currencyDigits(member.currency));
      showError(`Enter the basket amount, for example ${example}`);
      announce(ui.scanErrorTitle.textContent);
      ui.amountInput.focus();
      return;
    }
    const request = { barcode: state.barcode, amount: { value, currency: member.currency } };
    const key = pendingKey("pendingEarn", request);
    clearError();
    setBusy(true);
    try {
      const data = await api("/scans", { method: "POST", json: request, idempotencyKey: key });
      state.pendingEarn = null;
      ui.amountInput.value = "";
      ui.awardButton.textContent = "Award points";
      renderMember(data.member, data.rewards);
      const lines = [
        `New balance: ${plural(data.member.points_balance, "point", "points")}`,
        Number(data.cashback_earned) > 0
          ? `+${formatMoney(data.cashback_earned, data.member.currency)} cashback`
          : "",
        data.stamps_earned > 0 ? `+${plural(data.stamps_earned, "stamp", "stamps")}` : "",
        data.tier_changed && data.member.tier ? `Now ${data.member.tier.name}!` : "",
      ];
      const headline = `+${plural(data.points_earned, "point", "points")}`;
      showResult(headline, lines);
      announce(`${headline} for ${data.member.name}. ${lines.filter(Boolean).join(". ")}`);
    } catch (error) {
      if (!error.retryable) state.pendingEarn = null;
      ui.awardButton.textContent = error.retryable ? "Retry award" : "Award points";
      if (reportError(error, "Press “Retry award”: the customer will not be credited twice.")) {
        announce(ui.scanErrorTitle.textContent);
      }
    } finally {
      setBusy(false);
      refocusScan();
    }
  }

  async function redeem(reward) {
    if (!state.member || state.busy) return;
    const member = state.member;
    // The basket typed for the purchase also prices percent discounts and proves a minimum.
    const typed = ui.amountInput.value.trim();
    const basket = typed ? parseAmount(typed, member.currency) : null;
    if ((typed && !basket) || (reward.minimum_basket && !basket)) {
      const minimum = reward.minimum_basket
        ? ` (at least ${formatMoney(reward.minimum_basket, member.currency)})`
        : "";
      showError(`Enter the basket amount${minimum}, then press “Redeem” again`);
      announce(ui.scanErrorTitle.textContent);
      ui.amountInput.focus();
      return;
    }
    const cost =
      reward.cost_points > 0 ? ` for ${plural(reward.cost_points, "point", "points")}` : "";
    const confirmed = await confirmAction(
      `Redeem ${reward.name}?`,
      `${member.name} has ${plural(member.points_balance, "point", "points")}. ` +
        `This reward is redeemed${cost} and cannot be undone here.`,
      "Redeem",
    );
    if (!confirmed || state.member !== member) {
      refocusScan();
      return;
    }
    const request = { barcode: state.barcode, reward_code: reward.code };
    if (basket) request.basket_amount = basket;
    const key = pendingKey("pendingRedeem", request);
    clearError();
    setBusy(true);
    try {
      const data = await api("/redemptions", {
        method: "POST",
        json: request,
        idempotencyKey: key,
      });
      state.pendingRedeem = null;
      renderMember(data.member, data.rewards);
      const instruction = handOver(data.reward || reward, data.member.currency);
      const lines = [
        ...instruction.lines,
        reward.cost_points > 0 ? `−${plural(reward.cost_points, "point", "points")}` : "",
        `New balance: ${plural(data.member.points_balance, "point", "points")}`,
      ];
      showResult(instruction.headline, lines, "reward");
      announce(`Redeemed. ${instruction.headline}. ${lines.filter(Boolean).join(". ")}`);
    } catch (error) {
      if (!error.retryable) state.pendingRedeem = null;
      if (reportError(error, "Press “Redeem” again: it will not be redeemed twice.")) {
        announce(ui.scanErrorTitle.textContent);
      }
    } finally {
      setBusy(false);
      refocusScan();
    }
  }

  /** What the cashier must do now that the reward is redeemed, by kind of reward. */
  function handOver(reward, currency) {
    switch (reward.kind) {
      case "fixed_discount":
        return reward.discount_amount
          ? {
              headline: `Take ${formatMoney(reward.discount_amount, currency)} off the bill`,
              lines: [reward.name],
            }
          : { headline: `Apply the discount: ${reward.name}`, lines: [] };
      case "percent_discount":
        return reward.discount_percent
          ? {
              headline: `Take ${formatNumber(Number(reward.discount_percent))} % off the bill`,
              lines: [reward.name],
            }
          : { headline: `Apply the discount: ${reward.name}`, lines: [] };
      case "free_shipping":
        return { headline: "Ship this order free of charge", lines: [reward.name] };
      case "donation":
        return {
          headline: "Donation recorded, nothing to hand over",
          lines: [
            reward.charity_name && reward.donation_amount
              ? `${formatMoney(reward.donation_amount, currency)} to ${reward.charity_name}`
              : reward.name,
          ],
        };
      default:
        return {
          headline: `Give the customer: ${reward.name}`,
          lines: reward.product_sku ? [`Product code ${reward.product_sku}`] : [],
        };
    }
  }

  function confirmAction(title, text, confirmLabel) {
    ui.dialogTitle.textContent = title;
    ui.dialogText.textContent = text;
    ui.dialogOk.textContent = confirmLabel;
    ui.dialog.returnValue = "";
    return new Promise((resolve) => {
      ui.dialog.addEventListener("close", () => resolve(ui.dialog.returnValue === "confirm"), {
        once: true,
      });
      ui.dialog.showModal();
      ui.dialogOk.focus();
    });
  }

  // A wedge scanner types into whatever has focus. Keys that land outside the scan field are
  // sent to it, so a scan works even after the cashier tapped a button or the amount field.
  const burst = { chars: "", last: 0, target: null };

  function onKeydown(event) {
    const printable = event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey;
    if (printable) {
      const now = performance.now();
      if (now - burst.last > WEDGE_GAP_MS || burst.target !== event.target) burst.chars = "";
      burst.chars += event.key;
      burst.last = now;
      burst.target = event.target;
    }
    if (ui.dialog.open && event.key === "Enter" && wedgeBurstActive(2)) {
      // A card scanned while "Redeem …?" is open must not press its focused confirm button.
      event.preventDefault();
      event.stopPropagation();
      burst.chars = "";
      return;
    }
    const scanning = !ui.scannerView.hidden && !ui.dialog.open && !state.camera;
    if (!printable || event.key === " " || !scanning) return;
    const target = event.target;
    if (target === ui.scanInput) return;
    if (target === ui.amountInput && /[0-9.,]/.test(event.key)) return;
    const otherField = target instanceof HTMLElement && target.matches("input, textarea, select");
    if (target !== ui.amountInput && otherField) return;
    // A letter in the amount field, or a key on a button: this is a card being scanned.
    event.preventDefault();
    ui.scanInput.focus({ preventScroll: true });
    ui.scanInput.value += event.key;
  }

  /** Whether at least ``length`` keys just arrived at scanner speed, Enter included. */
  function wedgeBurstActive(length) {
    return performance.now() - burst.last < WEDGE_GAP_MS * 3 && burst.chars.length >= length;
  }

  /** An all-digit code (a rotating TOTP barcode) scanned into the amount field: look it up. */
  function wedgeBurstInto(field) {
    if (burst.target !== field || !wedgeBurstActive(WEDGE_MIN_LENGTH)) return false;
    const code = burst.chars;
    burst.chars = "";
    if (field.value.endsWith(code)) field.value = field.value.slice(0, -code.length);
    lookup(code);
    return true;
  }

  // ---------------------------------------------------------------- camera

  function cameraErrorText(error) {
    switch (error && error.name) {
      case "NotAllowedError":
      case "SecurityError":
        return "Camera access was refused. Allow the camera for this page, or type the code.";
      case "NotFoundError":
      case "OverconstrainedError":
        return "No camera was found on this device. Type the code instead.";
      case "NotReadableError":
        return "The camera is busy in another app. Close it and try again.";
      default:
        return "The camera could not start. Type the code instead.";
    }
  }

  async function startCamera() {
    if (state.camera || state.busy) return;
    clearError();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showError("The camera needs a secure (https) connection. Type the code instead.");
      return;
    }
    let formats = CAMERA_FORMATS;
    try {
      const supported = await window.BarcodeDetector.getSupportedFormats();
      formats = CAMERA_FORMATS.filter((format) => supported.includes(format));
    } catch {
      // Older implementations lack getSupportedFormats: ask for ours and let it decide.
    }
    if (!formats.length) {
      showError("This browser cannot read our cards with the camera. Type the code instead.");
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" } },
        audio: false,
      });
    } catch (error) {
      showError(cameraErrorText(error));
      refocusScan();
      return;
    }
    state.camera = { stream, detector: new window.BarcodeDetector({ formats }), timer: 0 };
    ui.cameraVideo.srcObject = stream;
    ui.cameraPanel.hidden = false;
    ui.cameraStatus.textContent = "Hold the card steady in the frame.";
    ui.cameraStart.setAttribute("aria-pressed", "true");
    announce("Camera on. Hold the card in the frame.");
    try {
      await ui.cameraVideo.play();
    } catch {
      // Autoplay refusals still deliver frames to the detector once metadata is loaded.
    }
    detectFrame();
  }

  async function detectFrame() {
    const camera = state.camera;
    if (!camera) return;
    try {
      if (ui.cameraVideo.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA) {
        const codes = await camera.detector.detect(ui.cameraVideo);
        const hit = codes.find((code) => code.rawValue);
        if (hit && state.camera === camera) {
          stopCamera();
          await lookup(hit.rawValue);
          return;
        }
      }
    } catch {
      // A frame the detector cannot process (still warming up): try the next one.
    }
    if (state.camera === camera) camera.timer = window.setTimeout(detectFrame, CAMERA_INTERVAL_MS);
  }

  function stopCamera() {
    const camera = state.camera;
    if (!camera) return;
    state.camera = null;
    window.clearTimeout(camera.timer);
    for (const track of camera.stream.getTracks()) track.stop();
    ui.cameraVideo.srcObject = null;
    ui.cameraPanel.hidden = true;
    ui.cameraStart.setAttribute("aria-pressed", "false");
  }

  // ---------------------------------------------------------------- session

  function showScanner() {
    ui.signinView.hidden = true;
    ui.scannerView.hidden = false;
    ui.session.hidden = false;
    ui.sessionUser.textContent = sessionStorage.getItem(EMAIL_KEY) || "";
    refocusScan();
  }

  function signOut(message = "") {
    stopCamera();
    clearMember();
    state.pendingEarn = null;
    state.pendingRedeem = null;
    clearError();
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(EMAIL_KEY);
    ui.scannerView.hidden = true;
    ui.session.hidden = true;
    ui.signinView.hidden = false;
    ui.signinPassword.value = "";
    ui.signinError.textContent = message;
    ui.signinError.hidden = !message;
    announce(message);
    (ui.signinMerchant.value ? ui.signinEmail : ui.signinMerchant).focus();
  }

  async function signIn(event) {
    event.preventDefault();
    const merchant = ui.signinMerchant.value.trim().toLowerCase();
    const email = ui.signinEmail.value.trim();
    const password = ui.signinPassword.value;
    if (!merchant || !email || !password) {
      ui.signinError.textContent = "Enter your shop code, email and password.";
      ui.signinError.hidden = false;
      (!merchant ? ui.signinMerchant : email ? ui.signinPassword : ui.signinEmail).focus();
      return;
    }
    ui.signinError.hidden = true;
    ui.signinSubmit.disabled = true;
    try {
      state.token = null;
      const data = await api("/auth/token", {
        method: "POST",
        form: { username: email, password, merchant },
      });
      state.token = data.access_token;
      sessionStorage.setItem(TOKEN_KEY, data.access_token);
      sessionStorage.setItem(EMAIL_KEY, email);
      localStorage.setItem(MERCHANT_KEY, merchant);
      ui.signinPassword.value = "";
      showScanner();
      announce(`Signed in as ${email}. Ready to scan.`);
    } catch (error) {
      ui.signinError.textContent = errorText(error).title;
      ui.signinError.hidden = false;
      announce(ui.signinError.textContent);
      ui.signinPassword.select();
    } finally {
      ui.signinSubmit.disabled = false;
    }
  }

  async function resumeSession() {
    showScanner();
    try {
      await api("/auth/me");
    } catch (error) {
      // Offline for now is fine: the next scan will tell. A dead token is not.
      if (error.status === 401) signOut("Your session has ended. Please sign in again.");
    }
  }

  // ---------------------------------------------------------------- wiring

  ui.signinForm.addEventListener("submit", signIn);
  ui.signOut.addEventListener("click", () => signOut());
  ui.scanForm.addEventListener("submit", (event) => {
    event.preventDefault();
    lookup(ui.scanInput.value);
  });
  ui.earnForm.addEventListener("submit", award);
  ui.nextCustomer.addEventListener("click", () => {
    clearMember();
    clearError();
    announce("Ready for the next customer.");
    window.scrollTo({ top: 0 });
    refocusScan();
  });
  document.addEventListener("keydown", onKeydown, true);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.camera) stopCamera();
  });
  ui.cameraStop.addEventListener("click", () => {
    stopCamera();
    refocusScan();
  });
  ui.cameraStart.addEventListener("click", startCamera);
  // Release the camera when the till switches apps; it is reopened on demand.
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) stopCamera();
  });

  if ("BarcodeDetector" in window) ui.cameraStart.hidden = false;

  // A till's bookmark may name its shop (/scanner?merchant=slug); else the last one used.
  ui.signinMerchant.value =
    new URLSearchParams(window.location.search).get("merchant") ||
    localStorage.getItem(MERCHANT_KEY) ||
    "";

  if (state.token) {
    resumeSession();
  } else {
    signOut();
  }
})();
