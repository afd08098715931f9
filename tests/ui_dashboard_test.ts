/**
 * The dashboard at `/ui` in a real browser: headless Chromium (Debian `chromium`, driven by
 * `playwright-core`) against a real node with authentication on and a policy that denies
 * large payloads in reality `lab`. The page asks for the admin token, then shows a publish
 * rate that rises while the test publishes with fetch, the policy's denial, the audit
 * chain verified and, in the live inspector, a JSON pulse pretty-printed. It loads nothing
 * from anywhere but the node and throws no error. A screenshot is saved under `build/`.
 *
 * Skips (saying why) only when `/usr/bin/chromium` is not installed.
 */
import assert from "node:assert/strict";
import { chromium, type Page } from "playwright-core";
import { issueToken, writeNodeKeyFile } from "../runtime/shield/auth/mod.ts";
import { sleep, withNode } from "./support/node.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];
const ROOT = new URL("../", import.meta.url);
const SCREENSHOT = new URL("build/screenshots/ui_dashboard.png", ROOT).pathname;

const haveChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!haveChromium) console.log(`ui_dashboard_test: skipped: ${CHROMIUM} is not installed`);

/** Builds the dashboard when this test runs alone (the test task builds it first). */
async function ensureBuilt(): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("scripts/build_ui.ts", ROOT).pathname],
    cwd: ROOT,
    stdout: "null",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0, "scripts/build_ui.ts failed");
}

/** A numeric `data-value` of the element with `data-testid` (NaN while it is absent). */
async function valueOf(page: Page, testid: string): Promise<number> {
  const raw = await page.locator(`[data-testid="${testid}"]`).first().getAttribute("data-value", {
    timeout: 1000,
  }).catch(() => null);
  return raw === null ? NaN : Number(raw);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

Deno.test({
  name: "ui: the dashboard asks for the token, shows a rising publish rate and a policy denial",
  ignore: !haveChromium,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await ensureBuilt();
  const dir = await Deno.makeTempDir();
  const key = await writeNodeKeyFile(`${dir}/node.key`);
  const admin = await issueToken(key, { subject: "root", roles: ["admin"] });
  const user = await issueToken(key, {
    subject: "bob",
    realities: ["*"],
    publish: { allow: [">"] },
    subscribe: { allow: [">"] },
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  try {
    await withNode(async (node) => {
      const auth = { authorization: `Bearer ${admin}` };
      const install = await fetch(
        `${node.url}/v1/policies/size?builtin=payload_size_cap&reality=lab&config=${
          encodeURIComponent('{"max_bytes":64}')
        }`,
        { method: "PUT", headers: auth },
      );
      assert.equal(install.status, 201, await install.text());
      const publish = (body: string, type = "text/plain") =>
        fetch(`${node.url}/v1/realities/lab/topics/sensors.temp`, {
          method: "POST",
          headers: { ...auth, "content-type": type },
          body,
        });

      // The shell needs no token and holds nothing of the node: every file is the same bytes
      // for any node built from this source (no node id, no token, no figure).
      for (const file of ["", "app.js", "style.css"]) {
        const res = await fetch(`${node.url}/ui/${file}`);
        assert.equal(res.status, 200, file);
        assert.match(res.headers.get("content-security-policy")!, /default-src 'none'/);
        const text = await res.text();
        assert.ok(!text.includes(node.nodeId) && !text.includes(admin), file);
      }
      const noToken = await fetch(`${node.url}/v1/connections`);
      assert.equal(noToken.status, 401);
      await noToken.body?.cancel();

      const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
      const errors: string[] = [];
      const foreign: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => {
        // 401 before the token is given, 403 for the non-admin token and 404 from endpoints
        // this node lacks (circuits, presence) are answers the page handles, not errors.
        if (m.type() === "error" && !/status of (401|403|404)/.test(m.text())) {
          errors.push(m.text());
        }
      });
      page.on("request", (r) => {
        if (!r.url().startsWith(node.url)) foreign.push(r.url());
      });

      const t0 = Date.now();
      const mark = (what: string) => console.log(`  ${what} at ${Date.now() - t0} ms`);
      assert.equal((await publish("warming up")).status, 200);
      await page.goto(`${node.url}/ui/?every=500`);
      // Auth is on and the tab holds no token: the page asks for one and shows no data.
      const dialog = page.locator("dialog#auth");
      await dialog.waitFor({ state: "visible", timeout: 10_000 });
      assert.match(await page.locator("#auth-why").textContent() ?? "", /admin token/);
      assert.equal(
        await page.locator("#realities td", { hasText: "lab" }).count(),
        0,
        "no data without a token",
      );
      // A token without the admin role is refused, and the page says why.
      await page.fill("#auth-token", user);
      await page.click("dialog#auth button[type=submit]");
      await until(
        "the refusal",
        async () =>
          /admin role/.test(await page.locator("#auth-why").textContent() ?? "") &&
          await dialog.isVisible(),
      );
      await page.fill("#auth-token", admin);
      await page.click("dialog#auth button[type=submit]");
      await dialog.waitFor({ state: "hidden" });

      // Before the traffic the page reads lab's rate (0); publishing raises it.
      let before = NaN;
      await until(
        "the lab row",
        async () => (before = await valueOf(page, "publish-rate-lab")) >= 0,
      );
      let sent = 0;
      let peak = 0;
      const deadline = Date.now() + 20_000;
      while (!(peak > before) && Date.now() < deadline) {
        for (let i = 0; i < 50; i++) {
          const res = await publish(JSON.stringify({ t: 20 + (i % 5) }), "application/json");
          assert.equal(res.status, 200);
          sent++;
        }
        peak = Math.max(peak, await valueOf(page, "publish-rate-lab"));
        await sleep(100);
      }
      mark("rate rose");
      assert.ok(peak > before, `publish rate rose above ${before} (peak ${peak}, ${sent} sent)`);
      assert.ok((await valueOf(page, "total-publish-rate")) >= 0);

      // A payload over the policy's cap is denied; the policies view counts the denial.
      const denied = await publish("x".repeat(200));
      assert.equal(denied.status, 403);
      assert.equal((await denied.json()).error.code, "POLICY_DENIED");
      await until("the denial on the page", async () => (await valueOf(page, "denials-size")) >= 1);
      mark("denial shown");
      assert.ok((await valueOf(page, "policy-denials")) >= 1);
      assert.ok((await valueOf(page, "evaluations-size")) >= sent);

      // The audit tail holds the install, and its chain verifies.
      await until("the audit state", async () =>
        /chain verified/.test(
          await page.locator('[data-testid="audit-state"]').textContent({ timeout: 100 })
            .catch(() => "") ?? "",
        ));
      assert.ok(await page.locator("#audit", { hasText: "policy." }).count() > 0);

      mark("audit shown");
      // The live inspector shows a JSON pulse pretty-printed; its stream is a connection.
      await page.fill("#inspect-reality", "lab");
      await page.fill("#inspect-pattern", "sensors.>");
      await page.click("#inspect-toggle");
      await until(
        "the inspector live",
        async () => /live/.test(await page.locator("#inspect-status").textContent() ?? ""),
      );
      assert.equal((await publish('{"probe":{"ok":true}}', "application/json")).status, 200);
      const pulse = page.locator("#inspect-pulses li pre").first();
      await pulse.waitFor({ timeout: 10_000 });
      assert.match(await pulse.textContent() ?? "", /"probe": \{\n\s+"ok": true\n\s+\}/);
      // Payload text is shown as text: markup in a pulse never becomes part of the page.
      const hostile = JSON.stringify({ html: '<img src=x onerror="window.__pwned=1">' });
      assert.equal((await publish(hostile, "application/json")).status, 200);
      await page.locator("#inspect-pulses li", { hasText: "onerror" }).first().waitFor();
      assert.equal(await page.locator("#inspect-pulses li").count(), 2);
      assert.equal(await page.locator("#inspect-pulses img").count(), 0);
      assert.equal(await page.evaluate("window.__pwned"), undefined);
      // The topics view lists what the inspector saw; the stream is listed as a connection.
      await until(
        "the topic in the topics view",
        async () => await page.locator("#topics td", { hasText: /^sensors\.temp$/ }).count() > 0,
      );
      await until(
        "the inspector's stream in connections",
        async () => await page.locator("#connections td", { hasText: /^sse$/ }).count() > 0,
      );

      mark("inspector shown");
      await Deno.mkdir(new URL("build/screenshots/", ROOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      console.log(`ui_dashboard_test: screenshot saved to ${SCREENSHOT}`);
      assert.deepEqual(foreign, [], "the page loads only from its node");
      assert.deepEqual(errors, [], "the page throws no error");
      await page.close();
    }, { memory: true, authKey: `${dir}/node.key` });
  } finally {
    await browser.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "ui: with authentication off the page shows the node's figures without asking",
  ignore: !haveChromium,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await ensureBuilt();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  try {
    await withNode(async (node) => {
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${node.url}/v1/realities/open/topics/a.b`, {
          method: "POST",
          body: "x",
        });
        assert.equal(res.status, 200);
      }
      const page = await browser.newPage();
      await page.goto(`${node.url}/ui/?every=250`);
      await until(
        "the open reality's row",
        async () => await page.locator("#realities td", { hasText: /^open$/ }).count() > 0,
      );
      assert.equal(await page.locator("dialog#auth").isVisible(), false);
      // Published total of the reality, as /metrics counts it.
      const cells = await page.locator("#realities tr", { hasText: "open" }).locator("td.num")
        .allTextContents();
      assert.equal(cells[2], "3", JSON.stringify(cells));
      await page.close();
    }, { memory: true });
  } finally {
    await browser.close();
  }
});
