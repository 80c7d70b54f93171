// The napsh picker through Zellij's web client, driven in headless Debian Chromium.
// Started by run.sh, which provides the server, the session and a login token:
//   NAPSH_WEB_URL, NAPSH_WEB_TOKEN, NAPSH_WEB_SESSION, NAPSH_WEB_MODE, NAPSH_WEB_SCREENSHOT, NAPSH_SIM
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { chromium } from 'playwright-core';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set (run web-e2e/run.sh)`);
  return v;
};
const URL = env('NAPSH_WEB_URL');
const TOKEN = env('NAPSH_WEB_TOKEN');
const SESSION = env('NAPSH_WEB_SESSION');
const MODE = env('NAPSH_WEB_MODE', 'browser');
const SIM = env('NAPSH_SIM', '8981100000000000001');
const SCREENSHOT = env('NAPSH_WEB_SCREENSHOT', 'artifacts/picker.png');
const ARTIFACTS = path.dirname(SCREENSHOT);
const STEP_MS = Number(process.env.NAPSH_WEB_E2E_TIMEOUT_MS ?? 20000);
const DEVICE = 'kiosk-osaka-01';

// Flags for Debian Chromium as root on a machine with no internet (see docs/WEB.md).
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let browser;
let page;
let failed = false;
const log = [];

/** Polls `probe` until it returns a truthy value or the deadline passes. */
async function eventually(what, probe, { timeout = STEP_MS, every = 100 } = {}) {
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
      const screen = page ? await screenText().catch(() => '(no screen)') : '(no page)';
      throw new Error(`timed out after ${timeout} ms waiting for: ${what}\n` +
        `last probe result: ${last instanceof Error ? last.message : JSON.stringify(last)}\n` +
        `--- screen ---\n${screen}\n--------------`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * The terminal's visible text. The web client renders with xterm.js's WebGL addon (a canvas:
 * there are no `.xterm-rows` DOM rows) and exposes the Terminal as `window.term`, so the text
 * is read from xterm's buffer model.
 */
async function screenText() {
  return page.evaluate(() => {
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
}

const screenHas = (needle) => async () => {
  const s = await screenText();
  return needle instanceof RegExp ? needle.test(s) : s.includes(needle);
};

// run.sh stops this process with SIGTERM on teardown: close Chromium and exit at once
// (Playwright's own handler would close the browser but leave the test polling).
for (const [sig, code] of [['SIGTERM', 143], ['SIGINT', 130]]) {
  process.on(sig, () => {
    const exit = () => process.exit(code);
    setTimeout(exit, 3000).unref();
    (browser ? browser.close() : Promise.resolve()).then(exit, exit);
  });
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  fs.rmSync(path.join(ARTIFACTS, 'failure.png'), { force: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    handleSIGTERM: false,
    handleSIGINT: false,
  });
  // A fixed viewport gives a fixed terminal size (and a stable screenshot).
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  page = await context.newPage();
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') log.push(`console: ${m.text()}`); });
});

after(async () => {
  try {
    if (failed && page) {
      await page.screenshot({ path: path.join(ARTIFACTS, 'failure.png') }).catch(() => {});
      console.error(`--- screen at failure ---\n${await screenText().catch(() => '')}`);
      console.error(`--- browser log ---\n${log.join('\n')}`);
    }
  } finally {
    await browser?.close();
  }
});

/** A step: marks the run failed so later steps are skipped and `after` saves failure.png. */
function step(name, fn) {
  test(name, async (t) => {
    if (failed) return t.skip('an earlier step failed');
    try {
      await fn(t);
    } catch (e) {
      failed = true;
      throw e;
    }
  });
}

step('the page asks for a token and accepts it', async () => {
  const t0 = Date.now();
  await page.goto(`${URL}/${SESSION}`);
  // modals.js: <input type=password id=token>, <input type=checkbox id=remember>, <button id=submit>
  await page.locator('#token').waitFor({ timeout: STEP_MS });
  const login = page.waitForResponse((r) => r.url().endsWith('/command/login'), { timeout: STEP_MS });
  await page.locator('#token').fill(TOKEN);
  await page.locator('#submit').click();
  const res = await login;
  assert.equal(res.status(), 200, 'POST /command/login');
  const cookies = await page.context().cookies();
  const cookie = cookies.find((c) => c.name === 'session_token');
  assert.ok(cookie, 'a session_token cookie was set');
  assert.ok(cookie.httpOnly, 'session_token is HttpOnly');
  console.log(`  login in ${Date.now() - t0} ms`);
});

step(`the browser is attached to session ${SESSION}`, async () => {
  const t0 = Date.now();
  await eventually('window.term exists', () => page.evaluate(() => !!(window.term && window.term.rows > 0)));
  // The zellij tab bar shows "Zellij (<session>)" once the first frame arrived.
  await eventually(`"Zellij (${SESSION})" on screen`, screenHas(`Zellij (${SESSION})`));
  assert.equal(await page.title(), SESSION);
  console.log(`  attached in ${Date.now() - t0} ms (mode ${MODE}, terminal ${await page.evaluate(() => `${window.term.cols}x${window.term.rows}`)})`);
});

step('Alt y opens the picker with the fake helper\'s device', async () => {
  const t0 = Date.now();
  await page.locator('#terminal').click(); // focus xterm's hidden textarea
  await page.keyboard.press('Alt+y');
  await eventually('picker title "napsh — 1 devices"', screenHas('napsh — 1 devices'));
  await eventually(`device row "${DEVICE}"`, screenHas(/● kiosk-osaka-/));
  await page.screenshot({ path: SCREENSHOT });
  console.log(`  picker shown in ${Date.now() - t0} ms; screenshot ${SCREENSHOT}`);
});

step('Enter connects: a pane named after the device runs `<helper> ssh SIM`', async () => {
  const t0 = Date.now();
  await page.keyboard.press('Enter');
  await eventually('the fake ssh banner', screenHas(`fake napsh ssh: connected to ${SIM}`));
  // The picker hides itself once the pane is open; the device name is then only in the
  // new pane's frame title.
  await eventually(`the picker gone and a pane titled ${DEVICE}`, async () => {
    const s = await screenText();
    return !s.includes('napsh — ') && s.split('\n').some((l) => l.includes(DEVICE) && !l.includes('connected to'));
  });
  console.log(`  device pane in ${Date.now() - t0} ms`);
});

step('typing in the device pane runs a command and its output is read back', async () => {
  const t0 = Date.now();
  await eventually('the device prompt', screenHas('device$'));
  // Text goes to xterm's hidden textarea as key events; the expression keeps "hi-42" itself
  // out of the echoed command line.
  await page.keyboard.type('echo hi-$((40+2))');
  await page.keyboard.press('Enter');
  const screen = await eventually('"hi-42" printed by the shell', async () => {
    const s = await screenText();
    return /(^|[│\s])hi-42\s/m.test(s) ? s : null;
  });
  assert.match(screen, /echo hi-\$\(\(40\+2\)\)/, 'the typed command is echoed');
  await page.screenshot({ path: path.join(ARTIFACTS, 'shell.png') });
  console.log(`  round trip in ${Date.now() - t0} ms`);
});
