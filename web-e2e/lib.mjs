// Shared by the browser tests: headless Debian Chromium driven by playwright-core against
// Zellij's web client. Deadline-polling waits (no blind sleeps), the terminal's text read from
// xterm.js's buffer, the token login, failure artifacts, and SIGTERM/SIGINT handling.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { chromium } from 'playwright-core';

/** An environment variable, or `fallback`; throws naming it when neither exists. */
export const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

// Flags for Debian Chromium as root on a machine with no internet (see docs/WEB.md).
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * Registers the browser's `before`/`after` hooks and returns the helpers of one test file.
 * `artifacts`: directory for screenshots (failure.png on failure); `stepMs`: per-wait deadline.
 */
export function browserHarness({ artifacts, stepMs }) {
  const h = { page: null, browser: null, failed: false, log: [] };

  /** The terminal's visible text, from xterm's buffer (the web client draws on a canvas). */
  h.screenText = async () => h.page.evaluate(() => {
    const t = window.term;
    if (!t) return '';
    const b = t.buffer.active;
    const rows = [];
    for (let y = 0; y < t.rows; y++) {
      const line = b.getLine(b.viewportY + y);
      rows.push(line ? line.translateToString(true) : '');
    }
    return rows.join('\n');
  });

  /** Polls `probe` until it returns a truthy value (returned) or the deadline passes. */
  h.eventually = async (what, probe, { timeout = stepMs, every = 100 } = {}) => {
    const deadline = Date.now() + timeout;
    let last;
    for (;;) {
      try {
        last = await probe();
        if (last) return last;
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) {
        const screen = h.page ? await h.screenText().catch(() => '(no screen)') : '(no page)';
        throw new Error(`timed out after ${timeout} ms waiting for: ${what}\n` +
          `last probe result: ${last instanceof Error ? last.message : JSON.stringify(last)}\n` +
          `--- screen ---\n${screen}\n--------------`);
      }
      await new Promise((r) => setTimeout(r, every));
    }
  };

  /** A probe: the screen contains `needle` (string or RegExp); returns the screen. */
  h.screenHas = (needle) => async () => {
    const s = await h.screenText();
    const found = needle instanceof RegExp ? needle.test(s) : s.includes(needle);
    return found ? s : null;
  };

  /** Waits for `needle` on screen and returns the screen. */
  h.waitFor = (needle, what = JSON.stringify(String(needle))) => h.eventually(what, h.screenHas(needle));

  /** Saves a screenshot as `<artifacts>/<name>` and returns its path. */
  h.screenshot = async (name) => {
    const file = path.join(artifacts, name);
    await h.page.screenshot({ path: file });
    return file;
  };

  /** A test step: once one fails, the later ones are skipped and `after` saves failure.png. */
  h.step = (name, fn) => {
    test(name, async (t) => {
      if (h.failed) return t.skip('an earlier step failed');
      try {
        await fn(t);
      } catch (e) {
        h.failed = true;
        throw e;
      }
    });
  };

  /** Opens `<url>/<session>`, answers the token dialog and checks the session cookie. */
  h.login = async (url, session, token) => {
    await h.page.goto(`${url}/${session}`);
    // modals.js: <input type=password id=token>, <input type=checkbox id=remember>, <button id=submit>
    await h.page.locator('#token').waitFor({ timeout: stepMs });
    const login = h.page.waitForResponse((r) => r.url().endsWith('/command/login'), { timeout: stepMs });
    await h.page.locator('#token').fill(token);
    await h.page.locator('#submit').click();
    const res = await login;
    assert.equal(res.status(), 200, 'POST /command/login');
    const cookie = (await h.page.context().cookies()).find((c) => c.name === 'session_token');
    assert.ok(cookie, 'a session_token cookie was set');
    assert.ok(cookie.httpOnly, 'session_token is HttpOnly');
  };

  /** Waits until the page is attached to `session` (its name in Zellij's tab bar). */
  h.attached = async (session) => {
    await h.eventually('window.term exists', () => h.page.evaluate(() => !!(window.term && window.term.rows > 0)));
    await h.waitFor(`Zellij (${session})`);
    const title = await h.page.title();
    assert.ok(title === session || title.startsWith(`${session} | `), `page title ${JSON.stringify(title)}`);
    return h.page.evaluate(() => `${window.term.cols}x${window.term.rows}`);
  };

  // The runner stops this process with SIGTERM on teardown: close Chromium and exit at once
  // (Playwright's own handler would close the browser but leave the test polling).
  for (const [sig, code] of [['SIGTERM', 143], ['SIGINT', 130]]) {
    process.on(sig, () => {
      const exit = () => process.exit(code);
      setTimeout(exit, 3000).unref();
      (h.browser ? h.browser.close() : Promise.resolve()).then(exit, exit);
    });
  }

  before(async () => {
    fs.mkdirSync(artifacts, { recursive: true });
    fs.rmSync(path.join(artifacts, 'failure.png'), { force: true });
    h.browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      handleSIGTERM: false,
      handleSIGINT: false,
    });
    // A fixed viewport gives a fixed terminal size (and a stable screenshot).
    const context = await h.browser.newContext({ viewport: { width: 1280, height: 720 } });
    h.page = await context.newPage();
    h.page.on('pageerror', (e) => h.log.push(`pageerror: ${e.message}`));
    h.page.on('console', (m) => { if (m.type() === 'error') h.log.push(`console: ${m.text()}`); });
  });

  after(async () => {
    try {
      if (h.failed && h.page) {
        await h.page.screenshot({ path: path.join(artifacts, 'failure.png') }).catch(() => {});
        console.error(`--- screen at failure ---\n${await h.screenText().catch(() => '')}`);
        console.error(`--- browser log ---\n${h.log.join('\n')}`);
      }
    } finally {
      await h.browser?.close();
    }
  });

  return h;
}
