// Trustframe's pages in a real browser (issue 12): headless Chromium from Debian, driven over
// CDP by puppeteer-core, as a new user would use them: real typing, clicks and Enter. run.sh
// starts the servers and passes their URLs:
//   TF_DEMO    `trustframe demo` (tenant contoso, B2C_1_susi with the access-code API, B2C_1_reset,
//              the dev mailbox, the token viewer)
//   TF_CUSTOM  a plain config whose [ui] page_layouts are a B2C team's HTML templates (fixtures/)
//   TF_BRAND   a plain config with [ui.branding] (logo, primary colour, sign-in text, French)
//   TF_WORK    a temp folder: Chromium's profile, screenshots of failing tests
// Each test prints `ok - name` or `not ok - name` with the reason; the last line is
// `N passed, M failed`, and the exit code is non-zero when a test failed.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import puppeteer from "puppeteer-core";

const DEMO = process.env.TF_DEMO;
const CUSTOM = process.env.TF_CUSTOM;
const BRAND = process.env.TF_BRAND;
const WORK = process.env.TF_WORK;
const CHROMIUM = process.env.TF_CHROMIUM || "/usr/bin/chromium";
const only = process.env.TF_ONLY ? new RegExp(process.env.TF_ONLY) : null;
const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const PASSWORD = "Str0ng!Passw0rd";
const TEST_TIMEOUT_MS = 120_000;
let unique = 0;
const newEmail = (what) => `${what}-${Date.now().toString(36)}-${unique++}@example.com`;

// ---------------------------------------------------------------------------------------------
// The runner.

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

class Failure extends Error {}
function check(condition, message) {
  if (!condition) throw new Failure(message);
}
function equal(actual, expected, what) {
  check(actual === expected, `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

// A page in its own browser context (its own cookies), with page errors kept for the report.
async function open(ctx, { width = 1280, height = 900, javascript = true, bypassCSP = false, language } = {}) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  page.setDefaultNavigationTimeout(20_000);
  await page.setViewport({ width, height });
  if (!javascript) await page.setJavaScriptEnabled(false);
  if (bypassCSP) await page.setBypassCSP(true);
  if (language) await page.setExtraHTTPHeaders({ "Accept-Language": language });
  page.tfErrors = [];
  page.on("pageerror", (e) => page.tfErrors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") page.tfErrors.push(`console: ${m.text()} (${m.location()?.url || ""})`);
  });
  return page;
}

// ---------------------------------------------------------------------------------------------
// Page helpers.

// Clicks (or presses) something that navigates, and waits for the new page.
async function navigate(page, action) {
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), action()]);
}

// Clicks (or presses) something the page's script submits in place (fetch, then #api replaced),
// or that navigates (the app, the token viewer, a page without JavaScript): waits until the
// old #api is gone and no form is busy.
async function submit(page, action) {
  await page.evaluate(() => {
    (document.getElementById("api") || document.body).setAttribute("data-test-stale", "1");
  });
  await action();
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await page.waitForFunction(
        () =>
          document.readyState === "complete" &&
          document.body &&
          !document.querySelector("[data-test-stale]") &&
          !document.querySelector('form[aria-busy="true"]'),
        { polling: 50, timeout: Math.max(1000, deadline - Date.now()) },
      );
      return;
    } catch (e) {
      // A navigation in the middle of the wait: wait again in the new page.
      if (Date.now() < deadline && /context was destroyed|detached|navigat/i.test(String(e))) continue;
      throw e;
    }
  }
}

// Replaces a field's content by real typing: select all, delete, type.
async function retype(page, selector, text) {
  await page.click(selector, { clickCount: 3 });
  await page.keyboard.down("Control");
  await page.keyboard.press("KeyA");
  await page.keyboard.up("Control");
  await page.keyboard.press("Backspace");
  await page.type(selector, text);
}

const value = (page, selector) => page.$eval(selector, (e) => e.value);
const text = (page, selector) => page.$eval(selector, (e) => e.textContent.replace(/\s+/g, " ").trim());
const exists = async (page, selector) => (await page.$(selector)) !== null;
const state = (page) =>
  page.$eval("#emailVerificationControl", (e) => e.dataset.state).catch(() => "(no verification control)");

// The page's errors (page level and per field), for assertions and reports.
async function errors(page) {
  return page.$$eval(".error.pageLevel, .error.itemLevel, #error", (list) =>
    list.map((e) => e.textContent.replace(/\s+/g, " ").trim()).filter(Boolean),
  );
}

// A user flow from the token viewer's "Run user flow" (code + PKCE), optionally with
// ui_locales on the authorize URL: /token-viewer/run redirects to the authorize URL, which we
// then open again with ui_locales added.
async function runFlow(page, base, policy, { locale } = {}) {
  const response = await page.goto(`${base}/token-viewer/run?tenant=contoso&policy=${policy}`);
  check(response.ok(), `/token-viewer/run answered ${response.status()}`);
  if (locale) {
    const authorize = response
      .request()
      .redirectChain()
      .find((r) => r.url().includes("/oauth2/v2.0/authorize"));
    check(authorize, "/token-viewer/run did not redirect to the authorize endpoint");
    const url = new URL(authorize.url());
    url.searchParams.set("ui_locales", locale);
    const again = await page.goto(url.href);
    check(again.ok(), `authorize with ui_locales=${locale} answered ${again.status()}`);
  }
}

// The code mailed to `email`, read from the dev mailbox in another tab of the same browser.
async function mailedCode(page, base, email) {
  const tab = await page.browserContext().newPage();
  try {
    for (let i = 0; i < 50; i++) {
      await tab.goto(`${base}/dev/mailbox`);
      const code = await tab.$$eval(
        "tr.mail",
        (rows, email) => {
          for (const row of rows) {
            if (row.cells[1] && row.cells[1].textContent.includes(email)) {
              const code = row.querySelector(".code");
              return code ? code.textContent.trim() : null;
            }
          }
          return null;
        },
        email,
      );
      if (code) return code;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Failure(`no mail to ${email} in ${base}/dev/mailbox`);
  } finally {
    await tab.close();
    await page.bringToFront();
  }
}

// The token viewer after a journey: a verified ID token naming the user.
async function expectTokens(page, email, { access = true } = {}) {
  await page.waitForSelector("#signature", { timeout: 30_000 }).catch(async () => {
    throw new Failure(
      `no token viewer: at ${page.url()} (${JSON.stringify(await errors(page).catch(() => []))})`,
    );
  });
  const signature = await text(page, "#signature");
  check(signature.includes("Signature verified"), `token viewer: ${signature}`);
  const claims = await text(page, "#claims");
  check(claims.includes(email), `the ID token's claims do not name ${email}: ${claims.slice(0, 300)}`);
  const body = await text(page, "body");
  check(body.includes("ID token"), "the token viewer does not say 'ID token'");
  if (access) {
    check(body.includes("Access token"), "the token viewer shows no access token");
    check(body.includes("Refresh token"), "the token viewer shows no refresh token");
  }
}

// Sign-up, the verification steps: e-mail, send code, read it, verify. By clicks, or by
// Enter in the field when `enter`.
async function verifyEmail(page, base, email, { enter = false, js = true } = {}) {
  await page.waitForSelector("#email");
  await page.type("#email", email);
  const step = js ? (a) => submit(page, a) : (a) => navigate(page, a);
  if (enter) {
    await page.focus("#email");
    await step(() => page.keyboard.press("Enter"));
  } else {
    await step(() => page.click("#emailVerificationControl_but_send_code"));
  }
  equal(await state(page), "code_sent", `after sending the code (errors: ${await errors(page)})`);
  const code = await mailedCode(page, base, email);
  await page.type("#verificationCode", code);
  if (enter) {
    await page.focus("#verificationCode");
    await step(() => page.keyboard.press("Enter"));
  } else {
    await step(() => page.click("#emailVerificationControl_but_verify_code"));
  }
  equal(await state(page), "verified", `after verifying the code (errors: ${await errors(page)})`);
}

async function fillProfile(page, { accessCode } = {}) {
  await page.type("#givenName", "Ada");
  await page.type("#surname", "Lovelace");
  await page.type("#displayName", "Ada Lovelace");
  await page.type("#newPassword", PASSWORD);
  await page.type("#reenterPassword", PASSWORD);
  if (accessCode !== undefined) await page.type("#extension_accessCode", accessCode);
}

// A whole sign-up on the demo, for tests that need an account.
async function signUpDemo(ctx) {
  const page = await open(ctx);
  const email = newEmail("account");
  await runFlow(page, DEMO, "B2C_1_susi");
  await navigate(page, () => page.click("#createAccount"));
  await verifyEmail(page, DEMO, email);
  await fillProfile(page, { accessCode: "88888" });
  await submit(page, () => page.click("#continue"));
  await expectTokens(page, email);
  await page.close();
  return email;
}

// ---------------------------------------------------------------------------------------------
// a. The README's demo story, with no retyping.

test("README demo story: sign-up, wrong access code, right one without retyping passwords", async (ctx) => {
  const page = await open(ctx);
  const email = newEmail("story");
  await page.goto(`${DEMO}/`);
  await navigate(page, () => page.click("#run-B2C_1_susi"));
  await page.waitForSelector("#createAccount");
  await navigate(page, () => page.click("#createAccount"));
  await verifyEmail(page, DEMO, email);
  await fillProfile(page, { accessCode: "12345" });
  await submit(page, () => page.click("#continue"));
  const shown = await errors(page);
  check(shown.length > 0, "no error shown after a wrong access code");
  check(
    shown.join(" ").toLowerCase().includes("access code"),
    `the API's message is not shown: ${JSON.stringify(shown)}`,
  );
  check(
    !(await exists(page, "#signature")),
    "a wrong access code was accepted (the token viewer is shown)",
  );
  equal(await value(page, "#newPassword"), PASSWORD, `#newPassword after the API's error (${shown})`);
  equal(await value(page, "#reenterPassword"), PASSWORD, "#reenterPassword after the API's error");
  equal(await value(page, "#givenName"), "Ada", "#givenName after the API's error");
  await retype(page, "#extension_accessCode", "88888");
  await submit(page, () => page.click("#continue"));
  await expectTokens(page, email);
  console.log(`# the API's error was: ${shown.join(" | ")}`);
});

// ---------------------------------------------------------------------------------------------
// b. Enter does the page's main action.

test("Enter: sign-up (send code, verify, continue), not 'Change e-mail'", async (ctx) => {
  const page = await open(ctx);
  const email = newEmail("enter");
  await runFlow(page, DEMO, "B2C_1_susi");
  await navigate(page, () => page.click("#createAccount"));
  await verifyEmail(page, DEMO, email, { enter: true });
  await fillProfile(page, { accessCode: "88888" });
  await page.focus("#extension_accessCode");
  await submit(page, () => page.keyboard.press("Enter"));
  if (!(await exists(page, "#signature"))) {
    throw new Failure(
      `Enter after verification did not continue: verification state ${await state(page)}, errors ${JSON.stringify(await errors(page))}`,
    );
  }
  await expectTokens(page, email);
});

test("Enter: sign-in (wrong password shows the error, right one signs in)", async (ctx) => {
  const email = await signUpDemo(ctx);
  const other = await ctx.browser().createBrowserContext();
  try {
    const page = await open(other);
    await runFlow(page, DEMO, "B2C_1_susi");
    await page.type("#signInName", email);
    await page.type("#password", "Wrong!Passw0rd");
    await submit(page, () => page.keyboard.press("Enter"));
    const shown = await errors(page);
    check(shown.length > 0, "Enter with a wrong password showed no error");
    check(await exists(page, "#signInName"), "the sign-in form is gone after a wrong password");
    if ((await value(page, "#signInName")) !== email) await retype(page, "#signInName", email);
    await retype(page, "#password", PASSWORD);
    await submit(page, () => page.keyboard.press("Enter"));
    await expectTokens(page, email);
  } finally {
    await other.close();
  }
});

test("Enter: password reset (send code, verify, continue, new password)", async (ctx) => {
  const email = await signUpDemo(ctx);
  const other = await ctx.browser().createBrowserContext();
  try {
    const page = await open(other);
    await runFlow(page, DEMO, "B2C_1_reset");
    await verifyEmail(page, DEMO, email, { enter: true });
    // After verification: Enter in the page's first field continues.
    const field = await page.$("#attributeVerification input:not([type=hidden])");
    check(field, "no field on the reset page after verification");
    await field.focus();
    await submit(page, () => page.keyboard.press("Enter"));
    check(
      (await state(page)) !== "initial",
      "Enter after verification went back to the e-mail step ('Change e-mail')",
    );
    await page.waitForSelector("#newPassword");
    await page.type("#newPassword", "N3w!Passw0rd");
    await page.type("#reenterPassword", "N3w!Passw0rd");
    await submit(page, () => page.keyboard.press("Enter"));
    await expectTokens(page, email, { access: false });
  } finally {
    await other.close();
  }
});

// ---------------------------------------------------------------------------------------------
// c. Busy state while a code is sent (the request held back 1.5 s).

test("busy state: aria-busy and the status line while the code is sent", async (ctx) => {
  const page = await open(ctx);
  const email = newEmail("busy");
  await runFlow(page, DEMO, "B2C_1_susi");
  await navigate(page, () => page.click("#createAccount"));
  await page.type("#email", email);
  await page.setRequestInterception(true);
  let held = 0;
  page.on("request", (request) => {
    if (request.method() === "POST" && (request.postData() || "").includes("SendCode")) {
      held++;
      setTimeout(() => request.continue(), 1500);
    } else {
      request.continue();
    }
  });
  await page.evaluate(() => document.getElementById("api").setAttribute("data-test-stale", "1"));
  await page.click("#emailVerificationControl_but_send_code");
  const during = await page
    .waitForFunction(
      () => {
        const form = document.querySelector("#attributeVerification");
        const status = form && form.querySelector(".tf-status");
        if (!form || form.getAttribute("aria-busy") !== "true" || !status || !status.textContent.trim()) return null;
        const pressed = document.getElementById("emailVerificationControl_but_send_code");
        return { status: status.textContent.trim(), disabled: !!(pressed && pressed.disabled) };
      },
      { polling: 20, timeout: 1400 },
    )
    .then((h) => h.jsonValue())
    .catch(() => null);
  check(during, "the form was not aria-busy with a status text while the code was being sent");
  check(during.disabled, "the pressed button was not disabled while busy");
  await page.waitForFunction(
    () => !document.querySelector("[data-test-stale]") && !document.querySelector('form[aria-busy="true"]'),
    { polling: 50, timeout: 20_000 },
  );
  equal(held, 1, "requests with SendCode held back");
  equal(await state(page), "code_sent", `after the delayed send (errors: ${await errors(page)})`);
  console.log(`# while busy the status said: ${during.status}`);
});

// ---------------------------------------------------------------------------------------------
// d. Without JavaScript.

test("without JavaScript: the sign-up completes; passwords retyped after an error, as the page says", async (ctx) => {
  const page = await open(ctx, { javascript: false });
  const email = newEmail("nojs");
  await page.goto(`${DEMO}/`);
  await navigate(page, () => page.click("#run-B2C_1_susi"));
  await navigate(page, () => page.click("#createAccount"));
  await verifyEmail(page, DEMO, email, { js: false });
  await fillProfile(page, { accessCode: "12345" });
  await navigate(page, () => page.click("#continue"));
  const shown = await errors(page);
  check(shown.length > 0, "no error after a wrong access code");
  const body = await text(page, "body");
  check(body.includes("Passwords are never kept"), "the page does not say the passwords must be typed again");
  equal(await value(page, "#givenName"), "Ada", "#givenName kept after the error");
  equal(await value(page, "#newPassword"), "", "#newPassword after the error (never sent back)");
  await retype(page, "#extension_accessCode", "88888");
  await page.type("#newPassword", PASSWORD);
  await page.type("#reenterPassword", PASSWORD);
  await navigate(page, () => page.click("#continue"));
  // The hand-off page: without JavaScript the user posts the response to the app.
  if (await exists(page, "form[data-autosubmit]")) {
    await navigate(page, () => page.click("form[data-autosubmit] button"));
  }
  await expectTokens(page, email);
});

// ---------------------------------------------------------------------------------------------
// e. A B2C team's own HTML template ([ui] page_layouts), styled by its own CSS.

async function templateChecks(page, { form, field, button }) {
  const facts = await page.evaluate(
    (form, field, button) => {
      const b = document.querySelector(button);
      const entry = document.querySelector("#api .entry");
      return {
        inApi: !!document.querySelector(`#api ${form} ${field}`),
        header: !!document.querySelector(".contoso-header"),
        buttonColor: b ? getComputedStyle(b).backgroundColor : null,
        entryBorder: entry ? getComputedStyle(entry).borderLeftColor : null,
        script: document.documentElement.getAttribute("data-template-script"),
        scriptFile: document.documentElement.getAttribute("data-template-script-file"),
      };
    },
    form,
    field,
    button,
  );
  check(facts.header, "the template's own markup (.contoso-header) is not on the page");
  check(facts.inApi, `our form is not inside #api (${form} ${field})`);
  equal(facts.buttonColor, "rgb(204, 85, 0)", `${button}'s background (the template's CSS)`);
  equal(facts.entryBorder, "rgb(31, 61, 43)", "#api .entry's border (the template's CSS)");
  equal(facts.script, null, "the template's inline script ran");
  equal(facts.scriptFile, null, "the template's script file ran");
}

test("custom HTML template: our form inside #api, its CSS applied, its script not run, sign-up works", async (ctx) => {
  const page = await open(ctx);
  const email = newEmail("template");
  await runFlow(page, CUSTOM, "B2C_1_susi");
  await templateChecks(page, { form: "#localAccountForm", field: "#signInName", button: "#next" });
  await navigate(page, () => page.click("#createAccount"));
  await templateChecks(page, { form: "#attributeVerification", field: "#email", button: "#continue" });
  await verifyEmail(page, CUSTOM, email);
  await templateChecks(page, { form: "#attributeVerification", field: "#email", button: "#continue" });
  await fillProfile(page);
  await submit(page, () => page.click("#continue"));
  await expectTokens(page, email, { access: false });
});

// ---------------------------------------------------------------------------------------------
// f. Company branding ([ui.branding]).

test("branding: logo, primary colour, sign-in text, in English and French", async (ctx) => {
  const page = await open(ctx);
  await runFlow(page, BRAND, "B2C_1_susi");
  await page.waitForSelector("#bannerLogo");
  await page.waitForFunction(() => {
    const img = document.getElementById("bannerLogo");
    return img && img.complete;
  });
  const en = await page.evaluate(() => ({
    logo: document.getElementById("bannerLogo").naturalWidth,
    color: getComputedStyle(document.getElementById("next")).backgroundColor,
    lang: document.documentElement.lang,
    button: document.getElementById("next").textContent.trim(),
    body: document.body.textContent,
  }));
  check(en.logo > 0, "#bannerLogo did not load (naturalWidth 0)");
  equal(en.color, "rgb(138, 43, 226)", "the sign-in button's background");
  equal(en.lang, "en", "<html lang>");
  equal(en.button, "Sign in", "the sign-in button");
  check(en.body.includes("Welcome to Contoso"), "the sign-in text is not shown");

  await runFlow(page, BRAND, "B2C_1_susi", { locale: "fr" });
  await page.waitForSelector("#bannerLogo");
  const fr = await page.evaluate(() => ({
    color: getComputedStyle(document.getElementById("next")).backgroundColor,
    lang: document.documentElement.lang,
    button: document.getElementById("next").textContent.trim(),
    body: document.body.textContent,
  }));
  equal(fr.lang, "fr", "<html lang> with ui_locales=fr");
  equal(fr.button, "Se connecter", "the sign-in button with ui_locales=fr");
  check(fr.body.includes("Bienvenue chez Contoso"), "the French sign-in text is not shown");
  check(!fr.body.includes("Welcome to Contoso"), "the English sign-in text is shown in French");
  equal(fr.color, "rgb(138, 43, 226)", "the sign-in button's background in French");
});

// ---------------------------------------------------------------------------------------------
// g. axe-core on every page, in English and French: no serious or critical violation.

async function axe(page, label, found) {
  if (!(await page.evaluate(() => !!window.axe))) await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(" ")),
    }));
  });
  for (const v of result) {
    const line = `${label}: ${v.id} (${v.impact}) ${v.help} at ${v.targets.slice(0, 5).join(", ")}`;
    if (v.impact === "serious" || v.impact === "critical") found.push(line);
    else console.log(`# axe, ${v.impact} (not failing): ${line}`);
  }
}

for (const lang of ["en", "fr"]) {
  test(`axe-core: no serious violation on any page (${lang})`, async (ctx) => {
    const locale = lang === "fr" ? "fr" : undefined;
    const page = await open(ctx, { bypassCSP: true, language: lang === "fr" ? "fr-FR,fr" : "en-US,en" });
    const found = [];
    const email = newEmail(`axe-${lang}`);
    await page.goto(`${DEMO}/`);
    await axe(page, "home", found);
    await runFlow(page, DEMO, "B2C_1_susi", { locale });
    equal(await page.evaluate(() => document.documentElement.lang), lang, "the sign-in page's lang");
    await axe(page, "sign-in", found);
    await page.type("#signInName", email);
    await page.type("#password", "Wrong!Passw0rd");
    await submit(page, () => page.click("#next"));
    await axe(page, "sign-in with an error", found);
    await navigate(page, () => page.click("#createAccount"));
    await axe(page, "sign-up", found);
    await page.type("#email", email);
    await submit(page, () => page.click("#emailVerificationControl_but_send_code"));
    await axe(page, "sign-up, code sent", found);
    const code = await mailedCode(page, DEMO, email);
    await page.type("#verificationCode", code);
    await submit(page, () => page.click("#emailVerificationControl_but_verify_code"));
    await axe(page, "sign-up, verified", found);
    await fillProfile(page, { accessCode: "12345" });
    await submit(page, () => page.click("#continue"));
    check((await errors(page)).length > 0, "no error after a wrong access code");
    await axe(page, "sign-up with the API's error", found);
    await retype(page, "#extension_accessCode", "88888");
    await submit(page, () => page.click("#continue"));
    await expectTokens(page, email);
    await axe(page, "token viewer with tokens", found);
    await page.goto(`${DEMO}/dev/mailbox`);
    await axe(page, "mailbox", found);
    await page.goto(`${DEMO}/no/such/page`);
    await axe(page, "error page (404)", found);
    await runFlow(page, DEMO, "B2C_1_reset", { locale });
    await axe(page, "password reset", found);
    await page.type("#email", email);
    await submit(page, () => page.click("#emailVerificationControl_but_send_code"));
    await axe(page, "password reset, code sent", found);
    check(found.length === 0, `serious accessibility violations:\n    ${found.join("\n    ")}`);
  });
}

// ---------------------------------------------------------------------------------------------
// h. A phone: no horizontal scroll.

test("phone (360×740): no horizontal scroll on sign-in, sign-up and the mailbox", async (ctx) => {
  const page = await open(ctx, { width: 360, height: 740 });
  const wide = [];
  const measure = async (label) => {
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    if (w > 360) wide.push(`${label}: scrollWidth ${w}`);
  };
  const email = newEmail("phone");
  await runFlow(page, DEMO, "B2C_1_susi");
  await measure("sign-in");
  await navigate(page, () => page.click("#createAccount"));
  await measure("sign-up");
  await page.type("#email", email);
  await submit(page, () => page.click("#emailVerificationControl_but_send_code"));
  await measure("sign-up, code sent");
  await page.goto(`${DEMO}/dev/mailbox`);
  await measure("mailbox");
  check(wide.length === 0, `horizontal scroll at 360 px: ${wide.join("; ")}`);
});

// ---------------------------------------------------------------------------------------------

const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  userDataDir: path.join(WORK, "chromium-profile"),
  args: [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
  ],
});

let passed = 0;
let failed = 0;
const slug = (name) => name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60);
for (const { name, fn } of tests) {
  if (only && !only.test(name)) continue;
  const started = Date.now();
  const ctx = await browser.createBrowserContext();
  let timer;
  try {
    await Promise.race([
      fn(ctx),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Failure(`timed out after ${TEST_TIMEOUT_MS / 1000} s`)), TEST_TIMEOUT_MS);
      }),
    ]);
    passed++;
    console.log(`ok - ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}`);
    console.log(`    ${e instanceof Failure ? e.message : e.stack || e}`);
    const pages = await ctx.pages().catch(() => []);
    for (const [i, page] of pages.entries()) {
      const file = path.join(WORK, `${slug(name)}-${i}.png`);
      try {
        await page.screenshot({ path: file, fullPage: true });
        console.log(`    at ${page.url()}, screenshot ${file}`);
      } catch {
        console.log(`    at ${page.url()} (no screenshot)`);
      }
      for (const err of page.tfErrors || []) console.log(`    ${err}`);
    }
  } finally {
    clearTimeout(timer);
    await ctx.close().catch(() => {});
  }
}
await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
